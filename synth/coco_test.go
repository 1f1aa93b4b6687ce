package synth_test

import (
	"context"
	"slices"
	"testing"

	"github.com/bsampose/bsampose/coco"
	"github.com/bsampose/bsampose/synth"
)

// TestCOCOLoaderAccepts loads the generated files with the project's COCO
// loader: standard schema, no quirk to repair, every image readable, every
// person labeled, and ground truth scored as detections gives OKS AP 1.
func TestCOCOLoaderAccepts(t *testing.T) {
	train, val, err := synth.GenerateSplits(context.Background(), t.TempDir(), 12, 6, 2, synth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := coco.COCO17()
	for _, sp := range []synth.Split{train, val} {
		d, err := coco.Load(sp.Ann)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Schema.Names, want.Names) || !slices.Equal(d.Schema.Skeleton, want.Skeleton) ||
			!slices.Equal(d.Schema.FlipPairs, want.FlipPairs) {
			t.Errorf("%s: schema %+v, want COCO17 %+v", sp.Ann, d.Schema, want)
		}
		if len(d.Quirks) != 0 {
			t.Errorf("%s: quirks repaired: %v", sp.Ann, d.Quirks)
		}
		rep := coco.Check(d, sp.Images)
		if rep.Fatal() || rep.Empty != 0 || rep.Crowd != 0 || rep.SizeMismatch != 0 ||
			rep.LabeledPersons != rep.Persons || rep.ImagesWithoutAnnotations != 0 || rep.ImagesChecked != len(d.Images) {
			t.Errorf("%s: check report %+v", sp.Ann, rep)
		}
		dts := make([]coco.Result, len(d.Annotations))
		for i, a := range d.Annotations {
			dts[i] = coco.Result{ImageID: a.ImageID, CategoryID: a.CategoryID, Keypoints: a.Keypoints, Score: 1}
		}
		if s := coco.EvaluateOKS(d, dts, d.Schema.Sigmas); s.AP != 1 {
			t.Errorf("%s: ground truth as detections: AP %g, want 1", sp.Ann, s.AP)
		}
	}
}
