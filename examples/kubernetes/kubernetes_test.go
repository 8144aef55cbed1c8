// Package kubernetes holds the Kubernetes example of docs/remote.md: a
// plugin served remotely by a Deployment, with cert-manager certificates,
// and the httpd lines that reach it. This test keeps the YAML valid and
// its parts consistent with each other.
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// object is the part of a Kubernetes object the test reads.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec map[string]any    `yaml:"spec"`
	Data map[string]string `yaml:"data"`
}

// load decodes every document of every YAML file here.
func load(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML files: %v", err)
	}
	var all []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(false)
		for i := 0; ; i++ {
			var o object
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" || o.Metadata.Namespace != "apps" {
				t.Errorf("%s document %d: apiVersion %q kind %q name %q namespace %q; want all set, namespace apps",
					f, i, o.APIVersion, o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
			all = append(all, o)
		}
	}
	return all
}

func find(t *testing.T, all []object, kind, name string) object {
	t.Helper()
	for _, o := range all {
		if o.Kind == kind && o.Metadata.Name == name {
			return o
		}
	}
	t.Fatalf("no %s %s in the example", kind, name)
	return object{}
}

// TestExampleConsistent: the address in httpd's GoBridgePlugin line is a
// name of the plugin's certificate and the Service's port; the plugin
// listens where the Service sends; both certificates come from the CA
// issuer, for the right usage.
func TestExampleConsistent(t *testing.T) {
	all := load(t)
	conf := find(t, all, "ConfigMap", "httpd-gobridge").Data["gobridge.conf"]
	m := regexp.MustCompile(`tcp://([^:\s]+):(\d+)`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatalf("no tcp://host:port in the httpd configuration:\n%s", conf)
	}
	for _, opt := range []string{"ca=", "cert=", "key="} {
		if !strings.Contains(conf, opt) {
			t.Errorf("the GoBridgePlugin line has no %s", opt)
		}
	}
	host, port := m[1], m[2]

	cert := find(t, all, "Certificate", "billing-plugin-tls")
	var names []string
	for _, n := range cert.Spec["dnsNames"].([]any) {
		names = append(names, n.(string))
	}
	if !slices.Contains(names, host) {
		t.Errorf("httpd connects to %s, which is not among the plugin certificate's dnsNames %v", host, names)
	}
	svc := find(t, all, "Service", "billing-plugin")
	svcPort := svc.Spec["ports"].([]any)[0].(map[string]any)["port"]
	if !strings.HasPrefix(host, "billing-plugin.") || port != fmt.Sprint(svcPort) {
		t.Errorf("httpd connects to %s:%s; the Service is billing-plugin on port %v", host, port, svcPort)
	}

	dep := find(t, all, "Deployment", "billing-plugin")
	b, _ := yaml.Marshal(dep.Spec)
	for _, want := range []string{"GOBRIDGE_LISTEN", "tcp://0.0.0.0:7443", "GOBRIDGE_TLS_CERT", "GOBRIDGE_TLS_KEY", "GOBRIDGE_TLS_CLIENT_CA", "secretName: billing-plugin-tls", "runAsNonRoot: true"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("the plugin's Deployment lacks %q", want)
		}
	}
	for name, usage := range map[string]string{"billing-plugin-tls": "server auth", "httpd-gobridge-client": "client auth"} {
		c := find(t, all, "Certificate", name)
		if ref := c.Spec["issuerRef"].(map[string]any)["name"]; ref != "gobridge-ca" {
			t.Errorf("Certificate %s is issued by %v; want gobridge-ca", name, ref)
		}
		if u := c.Spec["usages"].([]any); len(u) != 1 || u[0] != usage {
			t.Errorf("Certificate %s usages %v; want [%s]", name, u, usage)
		}
	}
}
