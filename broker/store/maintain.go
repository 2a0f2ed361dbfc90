package store

import (
	"fmt"
	"time"
)

// maintainLoop owns the periodic work: the disk guard, retention and
// checkpoints.
func (s *Store) maintainLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.MaintenanceInterval)
	defer t.Stop()
	lastCheckpoint := time.Now()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		s.checkDisk()
		if err := s.applyRetention(); err != nil {
			s.lg.Error("retention", "err", err)
		}
		if time.Since(lastCheckpoint) >= s.cfg.CheckpointInterval {
			lastCheckpoint = time.Now()
			s.mu.Lock()
			failed := s.failed
			s.mu.Unlock()
			if failed != nil {
				continue
			}
			if err := s.checkpoint(); err != nil {
				s.lg.Error("checkpoint; recovery will re-scan more of the log", "err", err)
			}
		}
	}
}

// checkDisk refuses appends while the disk is fuller than the configured
// ratio and lets them through again once it is not.
func (s *Store) checkDisk() {
	du, err := s.fs.DiskUsage(s.cfg.Dir)
	if err != nil {
		s.lg.Warn("disk usage", "err", err)
		return
	}
	used := du.UsedFraction()
	s.m.diskUsed.Set(used)
	if s.cfg.DiskFullRatio < 1 && used >= s.cfg.DiskFullRatio {
		s.setDiskFull(fmt.Errorf("%w: %.1f%% of the disk holding %s is in use, the limit is %.0f%%; appends resume when space is freed",
			ErrDiskFull, 100*used, s.cfg.Dir, 100*s.cfg.DiskFullRatio))
		return
	}
	if s.diskFull.Load() != nil {
		s.lg.Info("disk has room again; appends resume", "used", used)
		s.diskFull.Store(nil)
		s.m.diskFull.Set(0)
	}
}

func (s *Store) setDiskFull(err error) {
	if s.diskFull.Swap(&err) == nil {
		s.lg.Error("refusing appends", "err", err)
	}
	s.m.diskFull.Set(1)
}

// applyRetention deletes whole segments, oldest first, while the oldest is
// older than MaxAge or the log is larger than MaxSize. The active segment
// is never deleted.
func (s *Store) applyRetention() error {
	s.retentionMu.Lock()
	defer s.retentionMu.Unlock()
	segs := s.log.Segments()
	total := int64(0)
	for _, sg := range segs {
		total += sg.Size
	}
	now := s.cfg.Now()
	deleted := 0
	for len(segs) > 1 {
		old := s.cfg.MaxAge > 0 && now.Sub(segs[0].ModTime) > s.cfg.MaxAge
		big := s.cfg.MaxSize > 0 && total > s.cfg.MaxSize
		if !old && !big {
			break
		}
		if err := s.log.DeleteOldest(); err != nil {
			return err
		}
		s.lg.Info("retention deleted segment", "segment", segs[0].Path, "bytes", segs[0].Size, "by_age", old)
		total -= segs[0].Size
		segs = segs[1:]
		deleted++
	}
	if deleted == 0 {
		return nil
	}
	s.m.deletedSegments.Add(deleted)
	start := s.log.Start()
	s.mu.Lock()
	qs := make([]*queue, 0, len(s.queues))
	for _, q := range s.queues {
		qs = append(qs, q)
	}
	s.mu.Unlock()
	for _, q := range qs {
		if err := q.cq.DropBefore(start); err != nil {
			return err
		}
	}
	s.corruptMu.Lock()
	for p := range s.corruptSeen {
		if p < start {
			delete(s.corruptSeen, p)
		}
	}
	s.corruptMu.Unlock()
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	return s.keys.DropBefore(start)
}
