package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
)

// Version identifies the generator. It changes whenever the same seed would
// draw different images, so cached datasets are regenerated.
const Version = 2

// File and folder names inside a generated dataset directory.
const (
	AnnFile    = "person_keypoints.json"
	ImagesDir  = "images"
	markerFile = ".synth-complete"
)

// Options tunes the generator. The zero value gives the defaults.
type Options struct {
	MinSize, MaxSize int // image width and height are drawn from [MinSize, MaxSize]; default 192, 288
	MaxPeople        int // 1..3 people per image; default 3
	Quality          int // JPEG quality; default 90
	Workers          int // parallel renderers; default runtime.GOMAXPROCS(0)

	// Progress, when set, is called after each image with the number of
	// images done and the total, always from the calling goroutine.
	Progress func(done, total int)
}

// ErrOptions reports invalid options or sizes.
var ErrOptions = errors.New("synth: invalid options")

func (o Options) withDefaults() (Options, error) {
	if o.MinSize == 0 {
		o.MinSize = 192
	}
	if o.MaxSize == 0 {
		o.MaxSize = max(288, o.MinSize)
	}
	if o.MaxPeople == 0 {
		o.MaxPeople = 3
	}
	if o.Quality == 0 {
		o.Quality = 90
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case o.MinSize < 64 || o.MaxSize < o.MinSize || o.MaxSize > 4096:
		return o, fmt.Errorf("%w: image size range [%d, %d] (want 64 <= min <= max <= 4096)", ErrOptions, o.MinSize, o.MaxSize)
	case o.MaxPeople < 1 || o.MaxPeople > 3:
		return o, fmt.Errorf("%w: max people %d (want 1..3)", ErrOptions, o.MaxPeople)
	case o.Quality < 1 || o.Quality > 100:
		return o, fmt.Errorf("%w: JPEG quality %d (want 1..100)", ErrOptions, o.Quality)
	}
	return o, nil
}

// Split names the annotation file and image folder of one generated set.
type Split struct {
	Ann    string // path of person_keypoints.json
	Images string // folder the file names are relative to
}

func splitOf(dir string) Split {
	return Split{Ann: filepath.Join(dir, AnnFile), Images: filepath.Join(dir, ImagesDir)}
}

// Streams keep the train and validation images of one seed disjoint.
const (
	streamTrain uint64 = 0
	streamVal   uint64 = 1
)

// Generate writes n procedurally drawn images to dir/images and their COCO
// keypoints annotations to dir/person_keypoints.json. The output depends
// only on n, seed and the size, people and quality options: the same
// arguments give byte-identical files. Every file is written to a temporary
// name and renamed; a marker written last records a complete set (see
// Ensure). Files of an earlier, larger set in dir are left in place but
// are not named by the new annotation file.
func Generate(ctx context.Context, dir string, n int, seed int64, opts Options) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("%w: n = %d (want >= 1)", ErrOptions, n)
	}
	_, err = generate(ctx, dir, n, seed, streamTrain, o, 0, n)
	return err
}

// GenerateSplits writes a training set of nTrain images to dir/train and a
// held-back validation set of nVal images to dir/val. The two sets come
// from disjoint random streams of the same seed; the training set equals
// Generate(ctx, dir/train, nTrain, seed, opts).
func GenerateSplits(ctx context.Context, dir string, nTrain, nVal int, seed int64, opts Options) (train, val Split, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return train, val, err
	}
	if nTrain < 1 || nVal < 1 {
		return train, val, fmt.Errorf("%w: nTrain = %d, nVal = %d (want >= 1)", ErrOptions, nTrain, nVal)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return train, val, fmt.Errorf("synth: %w", err)
	}
	if err := removeMarker(dir); err != nil {
		return train, val, err
	}
	if train, err = generate(ctx, filepath.Join(dir, "train"), nTrain, seed, streamTrain, o, 0, nTrain+nVal); err != nil {
		return train, val, err
	}
	if val, err = generate(ctx, filepath.Join(dir, "val"), nVal, seed, streamVal, o, nTrain, nTrain+nVal); err != nil {
		return train, val, err
	}
	return train, val, writeMarker(dir, splitsMarker(nTrain, nVal, seed, o))
}

// Ensure generates the dataset of Generate in dir unless a complete one
// with the same parameters is already there. An interrupted generation has
// no marker and is redone.
func Ensure(ctx context.Context, dir string, n int, seed int64, opts Options) (Split, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Split{}, err
	}
	if complete(dir, marker(n, seed, streamTrain, o)) {
		return splitOf(dir), nil
	}
	return splitOf(dir), Generate(ctx, dir, n, seed, opts)
}

// EnsureSplits is Ensure for GenerateSplits: it reuses dir when it holds
// complete train and val sets with the same parameters.
func EnsureSplits(ctx context.Context, dir string, nTrain, nVal int, seed int64, opts Options) (train, val Split, err error) {
	o, err := opts.withDefaults()
	if err != nil {
		return train, val, err
	}
	tdir, vdir := filepath.Join(dir, "train"), filepath.Join(dir, "val")
	if complete(dir, splitsMarker(nTrain, nVal, seed, o)) &&
		complete(tdir, marker(nTrain, seed, streamTrain, o)) &&
		complete(vdir, marker(nVal, seed, streamVal, o)) {
		return splitOf(tdir), splitOf(vdir), nil
	}
	return GenerateSplits(ctx, dir, nTrain, nVal, seed, opts)
}

// DefaultDir is the cache folder of the default synthetic dataset with the
// given sizes and seed: $XDG_CACHE_HOME/bsampose/synth-v<Version>-s<seed>-<nTrain>-<nVal>
// (os.UserCacheDir), or ./data-cache/... when there is no cache folder.
func DefaultDir(nTrain, nVal int, seed int64) string {
	name := fmt.Sprintf("synth-v%d-s%d-%d-%d", Version, seed, nTrain, nVal)
	if c, err := os.UserCacheDir(); err == nil && c != "" {
		return filepath.Join(c, "bsampose", name)
	}
	return filepath.Join("data-cache", name)
}

// markerInfo is the content of the marker file.
type markerInfo struct {
	Version   int    `json:"version"`
	Kind      string `json:"kind"`
	N         int    `json:"n,omitempty"`
	NTrain    int    `json:"n_train,omitempty"`
	NVal      int    `json:"n_val,omitempty"`
	Seed      int64  `json:"seed"`
	Stream    uint64 `json:"stream"`
	MinSize   int    `json:"min_size"`
	MaxSize   int    `json:"max_size"`
	MaxPeople int    `json:"max_people"`
	Quality   int    `json:"quality"`
}

func marker(n int, seed int64, stream uint64, o Options) markerInfo {
	return markerInfo{Version: Version, Kind: "set", N: n, Seed: seed, Stream: stream,
		MinSize: o.MinSize, MaxSize: o.MaxSize, MaxPeople: o.MaxPeople, Quality: o.Quality}
}

func splitsMarker(nTrain, nVal int, seed int64, o Options) markerInfo {
	return markerInfo{Version: Version, Kind: "splits", NTrain: nTrain, NVal: nVal, Seed: seed,
		MinSize: o.MinSize, MaxSize: o.MaxSize, MaxPeople: o.MaxPeople, Quality: o.Quality}
}

// complete reports whether dir holds a marker equal to want and, for a
// single set, the annotation file and every image it names.
func complete(dir string, want markerInfo) bool {
	b, err := os.ReadFile(filepath.Join(dir, markerFile))
	if err != nil {
		return false
	}
	var got markerInfo
	if json.Unmarshal(b, &got) != nil || got != want {
		return false
	}
	if want.Kind != "set" {
		return true
	}
	f, err := readCOCO(filepath.Join(dir, AnnFile))
	if err != nil || len(f.Images) != want.N {
		return false
	}
	for _, im := range f.Images {
		st, err := os.Stat(filepath.Join(dir, ImagesDir, im.FileName))
		if err != nil || st.Size() == 0 {
			return false
		}
	}
	return true
}

func writeMarker(dir string, m markerInfo) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, markerFile), append(b, '\n'), true)
}

func removeMarker(dir string) error {
	if err := os.Remove(filepath.Join(dir, markerFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file in the same folder and
// renames it to path, so readers never see a partial file.
func writeFileAtomic(path string, data []byte, sync bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("synth: write %s: %w", path, err)
	}
	return nil
}

// imageName is the file name of image index (0-based), COCO style.
func imageName(index int) string { return fmt.Sprintf("%012d.jpg", index+1) }

type rendered struct {
	index  int
	w, h   int
	people []person
	err    error
}

// generate renders n images of stream into dir with o.Workers goroutines.
// Progress counts start at done0 of total.
func generate(ctx context.Context, dir string, n int, seed int64, stream uint64, o Options, done0, total int) (Split, error) {
	sp := splitOf(dir)
	if err := os.MkdirAll(sp.Images, 0o755); err != nil {
		return sp, fmt.Errorf("synth: %w", err)
	}
	if err := removeMarker(dir); err != nil {
		return sp, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	results := make(chan rendered)
	var wg sync.WaitGroup
	for range min(o.Workers, n) {
		wg.Go(func() {
			var buf bytes.Buffer
			for i := range jobs {
				img, people := render(seed, stream, i, o)
				buf.Reset()
				err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: o.Quality})
				if err == nil {
					err = writeFileAtomic(filepath.Join(sp.Images, imageName(i)), buf.Bytes(), false)
				} else {
					err = fmt.Errorf("synth: encode %s: %w", imageName(i), err)
				}
				b := img.Bounds()
				select {
				case results <- rendered{index: i, w: b.Dx(), h: b.Dy(), people: people, err: err}:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() {
		defer close(jobs)
		for i := range n {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	all := make([]rendered, n)
	var firstErr error
	done := 0
	for res := range results {
		if res.err != nil && firstErr == nil {
			firstErr = res.err
			cancel()
		}
		all[res.index] = res
		done++
		if o.Progress != nil && firstErr == nil {
			o.Progress(done0+done, total)
		}
	}
	if firstErr != nil {
		return sp, firstErr
	}
	if err := ctx.Err(); err != nil || done < n {
		if err == nil {
			err = context.Canceled
		}
		return sp, fmt.Errorf("synth: generation stopped after %d of %d images: %w", done, n, err)
	}

	f := cocoFile{
		Info:       cocoInfo{Description: "bsampose synthetic people", Version: strconv.Itoa(Version), Seed: seed},
		Categories: []cocoCategory{personCategory()},
	}
	var annID int64
	for _, res := range all {
		imgID := int64(res.index + 1)
		f.Images = append(f.Images, cocoImage{ID: imgID, FileName: imageName(res.index), Width: res.w, Height: res.h})
		for _, p := range res.people {
			annID++
			kps := make([]float64, 0, 3*numJoints)
			for _, k := range p.Keypoints {
				kps = append(kps, k.X, k.Y, float64(k.V))
			}
			f.Annotations = append(f.Annotations, cocoAnnotation{
				ID: annID, ImageID: imgID, CategoryID: 1, Keypoints: kps,
				NumKeypoints: p.NumLabeled(), BBox: p.Box, Area: p.Area,
			})
		}
	}
	b, err := json.Marshal(&f)
	if err != nil {
		return sp, fmt.Errorf("synth: %w", err)
	}
	if err := writeFileAtomic(sp.Ann, b, true); err != nil {
		return sp, err
	}
	return sp, writeMarker(dir, marker(n, seed, stream, o))
}
