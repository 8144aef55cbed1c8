//go:build !linux

package filecache

// Without inotify every Get stats the file.
type watchState struct{}

func (*watchState) isWatched() bool { return false }

type notifier struct{}

var notify *notifier

func watch(string) *watchState { return nil }

func (*notifier) unchangedSince(*watchState, uint64) bool { return false }

func (*notifier) generation(*watchState) (gen uint64, watched bool) { return 0, false }
