package sdk_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gobridge/gobridge/sdk"
	"google.golang.org/grpc"
)

func ExampleServe() {
	// A plugin's main: a content handler, phases on the same value, and
	// an output filter. Serve returns when gobridged stops the plugin.
	sdk.Serve(&sdk.ServeConfig{
		Handler:         greeter{"Hello"},
		Phases:          site{},
		Filter:          upper{},
		ShutdownTimeout: 5 * time.Second,
	})
}

func ExampleServeHandler() {
	// The smallest plugin: one content handler.
	sdk.ServeHandler(sdk.HandlerFunc(func(w *sdk.ResponseWriter, r *sdk.Request) error {
		_, err := w.WriteString("hello\n")
		return err
	}))
}

func ExampleServeConfig() {
	// An auth-only plugin: `AuthBasicProvider gobridge` and `Require
	// gobridge <plugin> user ...`, logging at debug level into httpd's
	// error log (where LogLevel gobridge:debug lets it through).
	u := users{"ann": "s3cret"}
	cfg := &sdk.ServeConfig{
		PasswordChecker: u,
		RealmHasher:     u,
		RequireChecker:  u,
		RequestLogLevel: sdk.LevelDebug,
		GCPercent:       -1, // leave GOGC alone
	}
	// In main: sdk.Serve(cfg). Here, served the way sdk.Serve serves it:
	fmt.Println(sdk.Register(grpc.NewServer(), cfg))
	// Output: <nil>
}

func ExampleRegister() {
	// Register refuses what Serve refuses, such as Phases that implement
	// no phase interface.
	type notPhases struct{ Name string }
	err := sdk.Register(grpc.NewServer(), &sdk.ServeConfig{Phases: notPhases{"x"}})
	fmt.Println(strings.Contains(err.Error(), "implements no phase interface"))

	s := grpc.NewServer()
	if err := sdk.Register(s, &sdk.ServeConfig{Handler: greeter{"Hi"}, Filter: upper{}}); err != nil {
		panic(err)
	}
	for name := range s.GetServiceInfo() {
		if name == "gobridge.v1.GoBridgeFilter" {
			fmt.Println(name)
		}
	}
	// Output:
	// true
	// gobridge.v1.GoBridgeFilter
}

func ExampleLogger() {
	// The process logger: for what is not about one request (start-up,
	// background work). gobridged relays it into httpd's error log.
	sdk.Logger().Info("cache warmed", "entries", 1200)
	sdk.Logger().Log(context.Background(), sdk.LevelTrace, "details")
}

func Example_levels() {
	// httpd's levels, in order; slog's four are among them.
	for _, l := range []slog.Level{sdk.LevelTrace, sdk.LevelDebug, sdk.LevelInfo, sdk.LevelNotice,
		sdk.LevelWarn, sdk.LevelError, sdk.LevelCrit, sdk.LevelAlert, sdk.LevelEmerg} {
		fmt.Print(l, " ")
	}
	fmt.Println()
	// Output: DEBUG-4 DEBUG INFO INFO+2 WARN ERROR ERROR+4 ERROR+8 ERROR+12
}

func Example_versionAndLeanServer() {
	// Version is what Describe reports to gobridged; GOBRIDGE_LEAN_SERVER=off
	// in the plugin's environment keeps the module's connections on
	// grpc-go's server (to compare the two).
	fmt.Println(strings.HasPrefix(sdk.Version, "gobridge-sdk/"), sdk.LeanServerEnv, os.Getenv(sdk.LeanServerEnv) != "off")
	// Output: true GOBRIDGE_LEAN_SERVER true
}

func ExampleListenEnv() {
	// A plugin served to httpd on other hosts (GoBridgePlugin NAME ca=…
	// cert=… key=… tcp://plugins.example:7443): the same main as under
	// gobridged, with its address and TLS files from the environment, as
	// a Kubernetes Deployment would set them (docs/remote.md).
	for _, kv := range [][2]string{
		{sdk.ListenEnv, "tcp://0.0.0.0:7443"},
		{sdk.TLSCertEnv, "/tls/tls.crt"},
		{sdk.TLSKeyEnv, "/tls/tls.key"},
		{sdk.TLSClientCAEnv, "/tls/ca.crt"},
	} {
		fmt.Printf("%s=%s\n", kv[0], kv[1])
	}
	// In main: sdk.ServeHandler(h) then listens there, over mutual TLS.
	// Output:
	// GOBRIDGE_LISTEN=tcp://0.0.0.0:7443
	// GOBRIDGE_TLS_CERT=/tls/tls.crt
	// GOBRIDGE_TLS_KEY=/tls/tls.key
	// GOBRIDGE_TLS_CLIENT_CA=/tls/ca.crt
}
