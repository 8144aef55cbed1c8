package filecache

import (
	"os"
	"syscall"
)

// sysStamp is stamp_linux.go's for macOS, where plugins are often built
// and tested before they run under httpd.
func sysStamp(fi os.FileInfo) (ino, dev uint64, ctimeNano int64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino, uint64(st.Dev), st.Ctimespec.Nano()
	}
	return 0, 0, 0
}
