package sdk

import (
	"time"

	"github.com/gobridge/gobridge/internal/wire"
)

// ServerConfig is what httpd.conf says about the virtual host serving the
// request: mod_python's req.server members and server.get_options(). It
// is the same for every request the virtual host serves.
type ServerConfig struct {
	// DefinedIn and DefinedAt are the file and line of the <VirtualHost>
	// section; for the main server, the main configuration file and 0.
	DefinedIn string
	DefinedAt int

	// ErrorLog is the ErrorLog in effect, as httpd resolved it (a path, or
	// "|command", or "syslog:…").
	ErrorLog string

	// LogLevel is the LogLevel in effect for mod_gobridge ("warn",
	// "debug", "trace3"…): what the request logger's lines need to reach
	// the error log.
	LogLevel string

	// Timeout is httpd's Timeout: how long it waits for a client.
	Timeout time.Duration

	// KeepAlive, KeepAliveTimeout and MaxKeepAliveRequests are the
	// KeepAlive settings (MaxKeepAliveRequests 0: unlimited).
	KeepAlive            bool
	KeepAliveTimeout     time.Duration
	MaxKeepAliveRequests int

	// LimitRequestLine, LimitRequestFieldSize and LimitRequestFields are
	// the limits httpd puts on the request line and headers
	// (LimitRequestFields 0: unlimited).
	LimitRequestLine      int
	LimitRequestFieldSize int
	LimitRequestFields    int

	// Options are the GoBridgeOption values set at server or
	// <VirtualHost> level, outside any section: what
	// server.get_options() returns in mod_python. Request.Options holds
	// them too, merged with the sections'.
	Options Pairs
}

func serverConfigFromWire(w *wire.Request) ServerConfig {
	return ServerConfig{
		DefinedIn:             w.DefinedIn,
		DefinedAt:             w.DefinedAt,
		ErrorLog:              w.ErrorLog,
		LogLevel:              w.LogLevel,
		Timeout:               w.Timeout,
		KeepAlive:             w.KeepAlive,
		KeepAliveTimeout:      w.KeepAliveTimeout,
		MaxKeepAliveRequests:  w.KeepAliveMax,
		LimitRequestLine:      w.LimitRequestLine,
		LimitRequestFieldSize: w.LimitRequestFieldSize,
		LimitRequestFields:    w.LimitRequestFields,
		Options:               toPairs(w.ServerOptions),
	}
}
