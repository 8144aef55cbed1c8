// Command pbcheck decodes with Go's protobuf the HandleRequest that
// test_encode.c packed with gb_encode (the hand-written snapshot encoder)
// and the same message packed by protobuf-c, and fails unless both decode
// to equal messages with no unknown fields: the Go side of "the hand
// encoder's bytes mean what protobuf-c's mean".
package main

import (
	"fmt"
	"os"

	pb "github.com/gobridge/gobridge/proto/gobridge/v1"
	"google.golang.org/protobuf/proto"
)

func decode(path string) (*pb.HandleRequest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := &pb.HandleRequest{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.ProtoReflect().GetUnknown()) > 0 || len(m.GetRequest().ProtoReflect().GetUnknown()) > 0 {
		return nil, fmt.Errorf("%s: unknown fields after decoding", path)
	}
	return m, nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pbcheck OURS.bin PROTOBUF-C.bin")
		os.Exit(2)
	}
	ours, err := decode(os.Args[1])
	if err == nil {
		var ref *pb.HandleRequest
		if ref, err = decode(os.Args[2]); err == nil && !proto.Equal(ours, ref) {
			err = fmt.Errorf("the two decode to different messages:\n%v\n%v", ours, ref)
		}
		if err == nil && ours.GetRequest().GetConnection().GetTls() == nil {
			err = fmt.Errorf("the snapshot lost its nested messages: %v", ours)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pbcheck:", err)
		os.Exit(1)
	}
	fmt.Println("pbcheck: Go's protobuf decodes gb_encode's HandleRequest as protobuf-c's")
}
