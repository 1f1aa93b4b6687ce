package coco

import (
	"fmt"
	"slices"
)

// Split divides d by image into a training part and a dev part of at most
// n images, and names a fixed probe subset of the training part (for
// measuring accuracy on training data without augmentation):
//
//	sort the images by id;  k = len(Images) / n  (integer division)
//	dev   = the images at 0-based positions i with i % k == k-1, the first n of them
//	train = all other images
//	probe = the images at positions i with i % k == 0 (all in train)
//
// For lspet's 4000 training images and n = 500, k = 8: 500 dev images,
// 3500 train, 500 probe. Each part keeps d's schema and category, and its
// images and annotations in d's file order. It fails if n < 1 or k < 2
// (more than half of the images asked for).
func Split(d *Dataset, n int) (train, dev, probe *Dataset, err error) {
	if n < 1 {
		return nil, nil, nil, fmt.Errorf("coco: split %s: dev size %d: want at least 1", d.Path, n)
	}
	k := len(d.Images) / n
	if k < 2 {
		return nil, nil, nil, fmt.Errorf("coco: split %s: dev size %d of %d images: want at most half of them", d.Path, n, len(d.Images))
	}
	ids := make([]int64, len(d.Images))
	for i, im := range d.Images {
		ids[i] = im.ID
	}
	slices.Sort(ids)
	part := make(map[int64]byte, len(ids)) // 'd' dev, 'p' probe, absent: train only
	nDev := 0
	for i, id := range ids {
		switch {
		case i%k == k-1 && nDev < n:
			part[id] = 'd'
			nDev++
		case i%k == 0:
			part[id] = 'p'
		}
	}
	mk := func(keep func(id int64) bool) (*Dataset, error) {
		o := &Dataset{Path: d.Path, CategoryID: d.CategoryID, Schema: d.Schema}
		for _, im := range d.Images {
			if keep(im.ID) {
				o.Images = append(o.Images, im)
			}
		}
		for _, a := range d.Annotations {
			if keep(a.ImageID) {
				o.Annotations = append(o.Annotations, a)
			}
		}
		return o, o.Reindex()
	}
	if train, err = mk(func(id int64) bool { return part[id] != 'd' }); err != nil {
		return nil, nil, nil, err
	}
	if dev, err = mk(func(id int64) bool { return part[id] == 'd' }); err != nil {
		return nil, nil, nil, err
	}
	if probe, err = mk(func(id int64) bool { return part[id] == 'p' }); err != nil {
		return nil, nil, nil, err
	}
	return train, dev, probe, nil
}
