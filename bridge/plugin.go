package bridge

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/gobridge/gobridge/internal/handshake"
	gobridgev1 "github.com/gobridge/gobridge/proto/gobridge/v1"
)

// hostPlugin is the host side of the gobridge plugin in go-plugin's plugin
// map. gobridged never calls the GoBridge service itself (mod_gobridge does,
// over the published socket), but go-plugin needs an entry in the map to
// negotiate the protocol version, and Dispense would return a client.
type hostPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

var _ plugin.GRPCPlugin = hostPlugin{}

// errHostOnly is returned if hostPlugin is ever used to serve.
var errHostOnly = errors.New("bridge: hostPlugin is the host side only; plugins serve through sdk.Serve")

// GRPCServer implements plugin.GRPCPlugin. gobridged never serves.
func (hostPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return errHostOnly }

// GRPCClient implements plugin.GRPCPlugin: a GoBridge client on the
// plugin's connection.
func (hostPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return gobridgev1.NewGoBridgeClient(cc), nil
}

// pluginSet is the plugin map given to every go-plugin client.
func pluginSet() plugin.PluginSet {
	return plugin.PluginSet{handshake.PluginName: hostPlugin{}}
}
