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
	if train, err = filter(d, func(id int64) bool { return part[id] != 'd' }); err != nil {
		return nil, nil, nil, err
	}
	if dev, err = filter(d, func(id int64) bool { return part[id] == 'd' }); err != nil {
		return nil, nil, nil, err
	}
	if probe, err = filter(d, func(id int64) bool { return part[id] == 'p' }); err != nil {
		return nil, nil, nil, err
	}
	return train, dev, probe, nil
}

// Subset keeps a fixed fraction keep/of of d's images, for a regime with
// fewer training persons, and names its probe:
//
//	sort the images by id
//	sub   = the images at 0-based positions j with j % of < keep
//	probe = the images at positions j with j % of == 0 (all in sub)
//
// Applied to Split's train part of lspet (3500 images) with 2/7: 1000
// images, probe 500. It fails unless 0 < keep < of.
func Subset(d *Dataset, keep, of int) (sub, probe *Dataset, err error) {
	if keep < 1 || keep >= of {
		return nil, nil, fmt.Errorf("coco: subset %s: %d/%d: want 0 < keep < of", d.Path, keep, of)
	}
	ids := make([]int64, len(d.Images))
	for i, im := range d.Images {
		ids[i] = im.ID
	}
	slices.Sort(ids)
	pos := make(map[int64]int, len(ids))
	for j, id := range ids {
		pos[id] = j
	}
	if sub, err = filter(d, func(id int64) bool { return pos[id]%of < keep }); err != nil {
		return nil, nil, err
	}
	if probe, err = filter(d, func(id int64) bool { return pos[id]%of == 0 }); err != nil {
		return nil, nil, err
	}
	return sub, probe, nil
}

// filter is d with the images keep accepts and their annotations, in d's
// file order, reindexed.
func filter(d *Dataset, keep func(id int64) bool) (*Dataset, error) {
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
