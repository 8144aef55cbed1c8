package bridge

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	b := backoff{Min: 100 * time.Millisecond, Max: 30 * time.Second, ResetAfter: time.Minute}
	want := []time.Duration{
		100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond, 12800 * time.Millisecond,
		25600 * time.Millisecond, 30 * time.Second, 30 * time.Second,
	}
	for i, w := range want {
		if got := b.Next(); got != w {
			t.Errorf("Next() #%d = %s; want %s", i+1, got, w)
		}
	}
	b.Ran(59 * time.Second)
	if got := b.Next(); got != 30*time.Second {
		t.Errorf("Next() after a 59 s run = %s; want 30s (no reset)", got)
	}
	b.Ran(time.Minute)
	if got := b.Next(); got != 100*time.Millisecond {
		t.Errorf("Next() after a 60 s run = %s; want 100ms (reset)", got)
	}
}
