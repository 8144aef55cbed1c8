// Package leangrpc is a small gRPC server for the connections mod_gobridge
// opens to a plugin: HTTP/2 framing from golang.org/x/net/http2, messages
// from google.golang.org/protobuf, handlers registered with the ordinary
// generated code (it is a grpc.ServiceRegistrar).
//
// Why it exists: grpc-go hands every call across three goroutines (the
// transport reader, a stream worker and the loopy writer), which on a
// request/answer peer like the module costs two goroutine wake-ups and two
// or three syscalls per call beyond the bare round trip (bench/README.md).
// Here the goroutine that reads a call's HEADERS runs the handler itself,
// reads the call's DATA from the same buffered read, and writes the answer
// (headers, message and trailers) in one write.
//
// Reading is shared by a token: whichever goroutine needs a frame and finds
// nobody else reading reads one and hands it to the stream it belongs to.
// So a second stream on the connection, a handler waiting for flow-control
// window, or a handler that watches its context (the first call of Done
// starts a reader for it) all keep working: ordinary concurrent handling,
// paid only by connections that use it.
//
// gRPC semantics follow grpc-go's server: status codes and messages in
// trailers, trailers-only answers for errors before any message,
// grpc-timeout deadlines, header and trailer metadata (grpc.SetHeader and
// friends work), cancellation by RST_STREAM, GOAWAY on GracefulStop, PING
// and SETTINGS answered, flow control both ways, message size limits.
// What it leaves out: compression (a compressed message is refused with
// Unimplemented), codecs other than protobuf, interceptors, stats handlers.
//
// On a bare unix or TCP socket it reads and writes with raw system calls
// from the runtime poller's callbacks (quietio_linux.go): they never block,
// and going through syscall.Syscall woke the runtime's sysmon on nearly
// every call of a plugin that idles between calls.
//
// Connections reach it from grpc-go's own listener through Dispatch: the
// module announces itself with a private HTTP/2 setting (SettingLean) in
// the SETTINGS frame that follows the client preface, which every other
// HTTP/2 server ignores, so the module stays an ordinary gRPC client for
// any plugin.
package leangrpc
