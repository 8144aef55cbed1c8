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

// LogLevelEnv names the variable in which gobridged tells each plugin the
// most verbose httpd log level it will relay (httpd's LogLevel for the
// gobridge module, as "debug", "notice", "trace3" …). The SDK's process
// logger writes nothing below it, so a plugin neither drowns its stderr in
// records that would be thrown away nor loses the ones that would be kept.
const LogLevelEnv = "GOBRIDGE_LOG_LEVEL"

// HTTPDLevelKey is the key of the hclog JSON field in which the SDK's
// process logger names a record's exact httpd level ("crit", "notice" …).
// hclog's own "@level" has only five levels; gobridged prefers this field
// when it relays a plugin's line into httpd's error log.
const HTTPDLevelKey = "@httpd_level"
