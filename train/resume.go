package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/bsampose/bsampose/optim"
	"github.com/bsampose/bsampose/pose"
)

// ErrComplete is returned by Run, together with the run's stored summary,
// when Config.Resume finds a run that has already done all its epochs.
// Nothing is written then.
var ErrComplete = errors.New("train: the run is already complete")

// MismatchError is returned by Run when Config.Resume finds a checkpoint
// trained with other settings. Only Epochs may differ (see Run); every
// other serialized field of Config must be equal.
type MismatchError struct {
	Path   string
	Saved  Config   // the checkpoint's settings (serialized fields only)
	Now    Config   // this run's settings, validated
	Fields []string // Go names of the differing Config fields, in declaration order
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "train: --resume: %s was trained with other settings (only the epochs may change):", e.Path)
	saved, now := reflect.ValueOf(e.Saved), reflect.ValueOf(e.Now)
	for _, name := range e.Fields {
		f, _ := reflect.TypeOf(e.Saved).FieldByName(name)
		a, _ := json.Marshal(saved.FieldByName(name).Interface())
		c, _ := json.Marshal(now.FieldByName(name).Interface())
		fmt.Fprintf(&b, "\n  %s: checkpoint %s, now %s", jsonKey(f), a, c)
	}
	return b.String()
}

// jsonKey returns the JSON key of a Config field, "" for a field that is
// not serialized (and so not part of a run's identity).
func jsonKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if k == "-" {
		return ""
	}
	if k == "" {
		return f.Name
	}
	return k
}

// configDiff returns the Go names of the serialized fields of Config,
// Epochs aside, whose values differ between a and b.
func configDiff(a, b Config) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if jsonKey(f) == "" || f.Name == "Epochs" {
			continue
		}
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, f.Name)
		}
	}
	return out
}

// resumePath returns the checkpoint that Resume continues from:
// ResumeFrom (a checkpoint file, or a run folder for its last.safetensors),
// else Out/last.safetensors. A run is continued in its own folder, so
// ResumeFrom must lie in Out.
func (c *Config) resumePath() (string, error) {
	last := filepath.Join(c.Out, "last.safetensors")
	if c.ResumeFrom == "" {
		return last, nil
	}
	p := c.ResumeFrom
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, "last.safetensors")
	}
	dir, err1 := filepath.Abs(filepath.Dir(p))
	out, err2 := filepath.Abs(c.Out)
	if err1 != nil || err2 != nil || dir != out {
		return "", fmt.Errorf("train: --resume=%s: the checkpoint is not in --out %s; a run is continued in its own folder", c.ResumeFrom, c.Out)
	}
	return p, nil
}

// openResume loads the checkpoint that cfg (validated) resumes from and
// checks it against cfg: the settings must match, Epochs aside, and Epochs
// must not fall below the epochs done. It returns ErrComplete when no epoch
// is left to train.
func openResume(cfg Config, cfgJSON []byte) (*pose.Checkpoint, string, error) {
	path, err := cfg.resumePath()
	if err != nil {
		return nil, "", err
	}
	ck, err := pose.LoadCheckpoint(path)
	if err != nil {
		return nil, path, fmt.Errorf("train: --resume: %w", err)
	}
	st := ck.Meta.Train
	if st == nil {
		return nil, path, fmt.Errorf("train: --resume: %s has no training state", path)
	}
	if last := filepath.Join(cfg.Out, "last.safetensors"); path != last {
		// Continuing from an earlier checkpoint (best.safetensors) would
		// train its later epochs again over the run's records of them.
		if lst, err := pose.LoadCheckpoint(last); err == nil && lst.Meta.Train != nil && lst.Meta.Train.Step > st.Step {
			return nil, path, fmt.Errorf("train: --resume=%s: the run has gone on to step %d (%s), past this checkpoint's step %d; continuing from it would overwrite the later epochs' records (copy it into a new --out to start a branch)",
				cfg.ResumeFrom, lst.Meta.Train.Step, last, st.Step)
		}
	}
	var saved Config
	if err := json.Unmarshal(st.Config, &saved); err != nil {
		return nil, path, fmt.Errorf("train: --resume: %s: settings: %w", path, err)
	}
	if d := configDiff(saved, cfg); len(d) > 0 {
		return nil, path, &MismatchError{Path: path, Saved: saved, Now: cfg, Fields: d}
	}
	done := st.Epoch
	if st.EpochStep > 0 {
		done++ // the unfinished epoch cannot be dropped
	}
	switch {
	case cfg.Epochs < done:
		trained := fmt.Sprintf("%d epochs", st.Epoch)
		if st.EpochStep > 0 {
			trained += fmt.Sprintf(" and %d steps of epoch %d", st.EpochStep, st.Epoch+1)
		}
		return nil, path, fmt.Errorf("train: --resume: %s has trained %s; --epochs %d cannot end the run before that", path, trained, cfg.Epochs)
	case st.Epoch >= cfg.Epochs:
		return ck, path, ErrComplete
	}
	return ck, path, nil
}

// restore copies a checkpoint's weights, batch-norm statistics and
// optimizer state into net and s.
func restore(ck *pose.Checkpoint, path string, net *pose.Net, s optim.Stepper, params []*optim.Param) error {
	if err := ck.CopyInto(net.Params()); err != nil {
		return err
	}
	if err := ck.CopyInto(net.Buffers()); err != nil {
		return err
	}
	if sf, ok := s.(optim.Stateful); ok {
		st := optim.State{Tensors: map[string][]float32{}, Steps: map[string]int64{}}
		for name, t := range ck.Tensors {
			if n, ok := strings.CutPrefix(name, "optim."); ok {
				st.Tensors[n] = t.Value
			}
		}
		for name, n := range ck.Meta.Train.Counters {
			st.Steps[name] = int64(n)
		}
		if err := sf.SetState(params, st); err != nil {
			return fmt.Errorf("train: --resume: %s: %w", path, err)
		}
	}
	return nil
}

// File names in a run folder.
const (
	summaryFile = "summary.json"
	metricsFile = "metrics.jsonl"
	epochsFile  = "epochs.jsonl"
)

// readEpochs returns the epoch records of the run in dir up to epoch upTo:
// epochs.jsonl, or for a run written before that file existed the epoch
// log of summary.json. A missing file gives no records.
func readEpochs(dir string, upTo int) ([]EpochRecord, error) {
	var recs []EpochRecord
	err := readLines(filepath.Join(dir, epochsFile), func(line []byte) error {
		var r EpochRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		if r.Epoch <= upTo {
			recs = append(recs, r)
		}
		return nil
	})
	if !errors.Is(err, os.ErrNotExist) {
		return recs, err
	}
	s, err := readSummary(dir)
	if s == nil {
		return nil, err
	}
	for _, r := range s.EpochLog {
		if r.Epoch <= upTo {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// readSummary reads dir's summary.json; a missing file gives nil, nil.
func readSummary(dir string) (*Summary, error) {
	b, err := os.ReadFile(filepath.Join(dir, summaryFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("train: %s: %w", filepath.Join(dir, summaryFile), err)
	}
	return &s, nil
}

// completeSummary is the record of a run that is already complete:
// summary.json, or when that is missing (a crash right after the last
// checkpoint) what the checkpoint state and epochs.jsonl hold.
func completeSummary(cfg Config, st *pose.TrainState) (*Summary, error) {
	if s, err := readSummary(cfg.Out); s != nil || err != nil {
		return s, err
	}
	s := &Summary{Epochs: st.Epoch, Steps: st.Step, BestScore: st.BestScore, BestEpoch: st.BestEpoch,
		Last: filepath.Join(cfg.Out, "last.safetensors")}
	if st.BestEpoch > 0 {
		s.Best = filepath.Join(cfg.Out, "best.safetensors")
	}
	var err error
	if s.EpochLog, err = readEpochs(cfg.Out, st.Epoch); err != nil {
		return nil, fmt.Errorf("train: %s: %w", filepath.Join(cfg.Out, epochsFile), err)
	}
	if n := len(s.EpochLog); n > 0 {
		s.FinalLoss, s.Val = s.EpochLog[n-1].TrainLoss, s.EpochLog[n-1].Val
	}
	return s, nil
}

// trimLogs drops from the run's logs what the checkpoint being resumed
// has not seen (steps after st.Step in metrics.jsonl, epochs after
// st.Epoch in epochs.jsonl: after a NaN stop or a crash they were logged
// past the last checkpoint, and will be trained again). A file is only
// rewritten when a line is dropped, which is reported on progress.
func trimLogs(dir string, st *pose.TrainState, progress io.Writer) error {
	for _, f := range []struct {
		name string
		keep func(step int, epoch float64) bool
	}{
		{metricsFile, func(step int, _ float64) bool { return step <= st.Step }},
		{epochsFile, func(_ int, epoch float64) bool { return int(epoch) <= st.Epoch }},
	} {
		path := filepath.Join(dir, f.name)
		var kept bytes.Buffer
		dropped := 0
		err := readLines(path, func(line []byte) error {
			var r struct {
				Step  int     `json:"step"`
				Epoch float64 `json:"epoch"` // fractional in metrics.jsonl
			}
			if err := json.Unmarshal(line, &r); err != nil {
				return err
			}
			if f.keep(r.Step, r.Epoch) {
				kept.Write(line)
				kept.WriteByte('\n')
			} else {
				dropped++
			}
			return nil
		})
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("train: %s: %w", path, err)
		}
		if dropped > 0 {
			if err := pose.WriteFileAtomic(path, kept.Bytes()); err != nil {
				return fmt.Errorf("train: %w", err)
			}
			fmt.Fprintf(progress, "dropped %d lines of %s logged after the checkpoint (epoch %d, step %d); those steps are trained again\n", dropped, f.name, st.Epoch, st.Step)
		}
	}
	return nil
}

// readLines calls fn with each non-empty line of the file at path. A
// torn last line (a crash while it was written) is ignored.
func readLines(path string, fn func(line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			if !json.Valid(line) {
				// Only the last line may be torn.
				if sc.Scan() {
					return fmt.Errorf("line %d: %w", n, err)
				}
				return nil
			}
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return sc.Err()
}
