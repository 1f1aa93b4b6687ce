package coco

import (
	"fmt"
	"slices"
	"testing"
)

// splitFixture has n images with ids in a shuffled order (id = 10·(perm
// position)+3), one annotation each and a second one on every third image.
func splitFixture(n int) *Dataset {
	d := &Dataset{Path: "fixture.json", CategoryID: 1, Schema: Schema{Names: []string{"a"}, Sigmas: []float64{0.1}}}
	for i := range n {
		id := int64((i*11)%n*10 + 3) // a permutation of the ids when gcd(11, n) = 1
		d.Images = append(d.Images, Image{ID: id, FileName: fmt.Sprint(id, ".jpg")})
		d.Annotations = append(d.Annotations, Annotation{ID: int64(2 * i), ImageID: id, Keypoints: []Keypoint{{1, 1, 2}}, NumKeypoints: 1})
		if i%3 == 0 {
			d.Annotations = append(d.Annotations, Annotation{ID: int64(2*i + 1), ImageID: id, Keypoints: []Keypoint{{2, 2, 2}}, NumKeypoints: 1})
		}
	}
	if err := d.Reindex(); err != nil {
		panic(err)
	}
	return d
}

func imageIDs(d *Dataset) []int64 {
	var ids []int64
	for _, im := range d.Images {
		ids = append(ids, im.ID)
	}
	slices.Sort(ids)
	return ids
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name                string
		images, n           int
		wantDev, wantTrain  int
		wantProbe           int
		firstDev, lastProbe int64 // by sorted position: id = 10·pos + 3
	}{
		// lspet's numbers: 4000 images, 500 dev, k = 8.
		{"lspet", 4000, 500, 500, 3500, 500, 7*10 + 3, 3992*10 + 3},
		// 23 images, n = 5: k = 4, dev candidates at 3, 7, 11, 15, 19 (5 of them).
		{"remainder", 23, 5, 5, 18, 6, 3*10 + 3, 20*10 + 3},
		// 9 images, n = 4: k = 2, candidates at 1, 3, 5, 7: all four.
		{"k two", 9, 4, 4, 5, 5, 1*10 + 3, 8*10 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := splitFixture(tc.images)
			tr, dev, pr, err := Split(d, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(dev.Images) != tc.wantDev || len(tr.Images) != tc.wantTrain || len(pr.Images) != tc.wantProbe {
				t.Fatalf("images dev %d train %d probe %d, want %d %d %d", len(dev.Images), len(tr.Images), len(pr.Images), tc.wantDev, tc.wantTrain, tc.wantProbe)
			}
			k := tc.images / tc.n
			for _, id := range imageIDs(dev) {
				if pos := (id - 3) / 10; pos%int64(k) != int64(k-1) {
					t.Errorf("dev image at sorted position %d, k = %d", pos, k)
				}
			}
			if got := imageIDs(dev)[0]; got != tc.firstDev {
				t.Errorf("first dev image %d, want %d", got, tc.firstDev)
			}
			if got := imageIDs(pr); got[len(got)-1] != tc.lastProbe {
				t.Errorf("last probe image %d, want %d", got[len(got)-1], tc.lastProbe)
			}
			inTrain := map[int64]bool{}
			for _, id := range imageIDs(tr) {
				inTrain[id] = true
			}
			for _, id := range imageIDs(dev) {
				if inTrain[id] {
					t.Errorf("image %d in both train and dev", id)
				}
			}
			for _, id := range imageIDs(pr) {
				if !inTrain[id] {
					t.Errorf("probe image %d not in train", id)
				}
			}
			if na := len(tr.Annotations) + len(dev.Annotations); na != len(d.Annotations) {
				t.Errorf("train+dev annotations %d, want %d", na, len(d.Annotations))
			}
			for _, a := range dev.Annotations {
				if _, ok := dev.Image(a.ImageID); !ok {
					t.Errorf("dev annotation %d on image %d outside dev", a.ID, a.ImageID)
				}
			}
		})
	}
	for _, n := range []int{0, -1, 13} {
		if _, _, _, err := Split(splitFixture(23), n); err == nil {
			t.Errorf("n = %d of 23 images accepted", n)
		}
	}
}

func TestSubset(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		images, keep, of      int
		wantSub, wantProbe    int
		lastSub, lastProbePos int64 // sorted positions
	}{
		// regime B of docs/paper-lspet: lspet's 3500 train images, 2/7.
		{"regime B", 3500, 2, 7, 1000, 500, 3494, 3493},
		// 23 images, 1/3: positions 0, 3, ..., 21 in both.
		{"one of three", 23, 1, 3, 8, 8, 21, 21},
		// 10 images, 3/4: positions j%4 < 3.
		{"remainder", 10, 3, 4, 8, 3, 9, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := splitFixture(tc.images)
			sub, pr, err := Subset(d, tc.keep, tc.of)
			if err != nil {
				t.Fatal(err)
			}
			if len(sub.Images) != tc.wantSub || len(pr.Images) != tc.wantProbe {
				t.Fatalf("images sub %d probe %d, want %d %d", len(sub.Images), len(pr.Images), tc.wantSub, tc.wantProbe)
			}
			ids := imageIDs(sub)
			if got := (ids[len(ids)-1] - 3) / 10; got != tc.lastSub {
				t.Errorf("last subset position %d, want %d", got, tc.lastSub)
			}
			in := map[int64]bool{}
			for _, id := range ids {
				if pos := (id - 3) / 10; pos%int64(tc.of) >= int64(tc.keep) {
					t.Errorf("subset image at position %d, %d/%d", pos, tc.keep, tc.of)
				}
				in[id] = true
			}
			pids := imageIDs(pr)
			if got := (pids[len(pids)-1] - 3) / 10; got != tc.lastProbePos {
				t.Errorf("last probe position %d, want %d", got, tc.lastProbePos)
			}
			for _, id := range pids {
				if !in[id] {
					t.Errorf("probe image %d not in the subset", id)
				}
			}
			for _, a := range sub.Annotations {
				if !in[a.ImageID] {
					t.Errorf("annotation %d on image %d outside the subset", a.ID, a.ImageID)
				}
			}
		})
	}
	for _, kn := range [][2]int{{0, 7}, {7, 7}, {-1, 3}} {
		if _, _, err := Subset(splitFixture(23), kn[0], kn[1]); err == nil {
			t.Errorf("subset %d/%d accepted", kn[0], kn[1])
		}
	}
}
