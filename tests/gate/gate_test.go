package gate

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitRelease(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- Wait(context.Background(), s.URL("a")) }()
	<-s.Arrived("a")
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before Release", err)
	default:
	}
	s.Release("a")
	if err := <-done; err != nil {
		t.Errorf("Wait after Release = %v; want nil", err)
	}
	// A released gate lets later callers through at once.
	if err := Wait(context.Background(), s.URL("a")); err != nil || s.Count("a") != 2 {
		t.Errorf("second Wait = %v, count %d; want nil, 2", err, s.Count("a"))
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Wait(ctx, s.URL("b")) }()
	<-s.Arrived("b")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel = %v; want context.Canceled", err)
	}
	// The server notices the abandoned request when its connection closes.
	deadline := time.Now().Add(10 * time.Second)
	for s.Abandoned("b") != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.Abandoned("b"); n != 1 {
		t.Errorf("Abandoned = %d; want 1", n)
	}
}

func TestNotifyAndClose(t *testing.T) {
	s, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	if err := Notify(context.Background(), s.URL("c")); err != nil {
		t.Fatalf("Notify = %v", err)
	}
	select {
	case <-s.Arrived("c"):
	default:
		t.Error("Notify did not count as an arrival")
	}
	done := make(chan error, 1)
	go func() { done <- Wait(context.Background(), s.URL("d")) }()
	<-s.Arrived("d")
	s.Close()
	if err := <-done; err == nil {
		t.Error("Wait on a closed server = nil; want an error")
	}
}
