// Package handshake holds what gobridged (the host) and sdk.Serve (the
// plugin) must agree on before go-plugin lets them talk: the magic cookie,
// the protocol version and the name under which the plugin is registered.
package handshake

import "github.com/hashicorp/go-plugin"

// PluginName is the key of the gobridge plugin in go-plugin's plugin map.
const PluginName = "gobridge"

// ProtocolVersion is the go-plugin application protocol version. Bump it
// together with the proto package (gobridge.v1 → v2).
const ProtocolVersion = 1

// Config is the go-plugin handshake shared by gobridged and every plugin.
// The cookie is not a secret: it only stops a plugin binary from being run
// by hand by mistake, and tells the user what to do instead.
var Config = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "GOBRIDGE_PLUGIN",
	MagicCookieValue: "b3c1f0c2-6f5e-4c64-9a43-gobridge-v1",
}

// ParentPIDEnv names the variable in which gobridged tells each plugin its
// own pid. The plugin exits when its parent is no longer that process, even
// if the parent died before the plugin started watching.
const ParentPIDEnv = "GOBRIDGE_PARENT_PID"
