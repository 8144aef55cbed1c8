package sdk

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestSetGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	env, hadEnv := os.LookupEnv("GOGC")
	defer func() {
		if hadEnv {
			os.Setenv("GOGC", env)
		} else {
			os.Unsetenv("GOGC")
		}
	}()

	for _, tt := range []struct {
		name    string
		gogc    string // "-" for unset
		percent int
		want    int
	}{
		{"default without GOGC", "-", 0, defaultGCPercent},
		{"GOGC in the environment wins over the default", "150", 0, 100},
		{"an explicit GCPercent wins over GOGC", "150", 250, 250},
		{"negative leaves the runtime alone", "-", -1, 100},
	} {
		debug.SetGCPercent(100)
		if tt.gogc == "-" {
			os.Unsetenv("GOGC")
		} else {
			os.Setenv("GOGC", tt.gogc)
		}
		setGC(&ServeConfig{GCPercent: tt.percent})
		if got := debug.SetGCPercent(100); got != tt.want {
			t.Errorf("%s: setGC(GCPercent %d, GOGC %s) left %d; want %d", tt.name, tt.percent, tt.gogc, got, tt.want)
		}
	}
}
