// Command kube-testenv-manifests reads Kubernetes manifest files the way kubectl does and prints their
// documents as JSON, for the TypeScript package @runtime-agent/kube-testenv:
//
//	kube-testenv-manifests FILE...
//
// Each file goes through k8s.io/apimachinery's YAMLOrJSONDecoder exactly as `kubectl apply -f` reads a
// file (k8s.io/cli-runtime's StreamVisitor, buffer size 4096): a stream of JSON values, or YAML documents
// split at lines that start with `---`, each converted to JSON by sigs.k8s.io/yaml (go-yaml). Documents
// that are empty or `null` are dropped, as kubectl drops them. Stdout is one JSON array with an entry per
// file, in argument order:
//
//	[{"file":"a.yaml","documents":[{...},...]}, {"file":"b.yaml","error":"document 2 (from line 7): yaml: ..."}]
//
// A file that cannot be read or parsed gets an "error" (Go's own message, prefixed with the number of the
// document and, for YAML, the file line it starts on, since go-yaml counts lines from the document's start)
// and no "documents"; the other files are still read. Exit status: 0 when the output was written, 2 for a
// usage error.
//
// This is a module of its own, apart from kube-testenv-server's (../go.mod), so that it builds in seconds
// and is cached apart from kube-apiserver. Keep k8s.io/apimachinery at the Kubernetes release of ../go.mod.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

type fileResult struct {
	File      string            `json:"file"`
	Documents []json.RawMessage `json:"documents,omitempty"`
	Error     string            `json:"error,omitempty"`
}

// decode returns every document of a manifest as kubectl's StreamVisitor sees it.
func decode(data []byte) ([]json.RawMessage, error) {
	docs := []json.RawMessage{}
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, fmt.Errorf("%s: %w", where(data, n), err)
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		docs = append(docs, raw)
	}
}

// where names the nth document the decoder read. For a YAML stream it adds the file line the document
// starts on: the decoder's YAMLReader ends a document at every line that starts with "---" and yields
// each non-empty run of lines between them, and go-yaml's "line N" counts from that document's start.
// A stream whose first non-space character is '{' is read as JSON first (GuessJSONStream); there the
// document is the nth JSON value.
func where(data []byte, n int) string {
	if trimmed := bytes.TrimLeftFunc(data, unicode.IsSpace); len(trimmed) > 0 && trimmed[0] == '{' {
		return fmt.Sprintf("document %d", n)
	}
	line, start, count := 1, 0, 0
	inDoc := false
	for rest := data; len(rest) > 0; line++ {
		text := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			text, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if bytes.HasPrefix(text, []byte("---")) {
			inDoc = false
			continue
		}
		if !inDoc {
			inDoc = true
			count++
			start = line
			if count == n {
				return fmt.Sprintf("document %d (from line %d)", n, start)
			}
		}
	}
	return fmt.Sprintf("document %d", n)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kube-testenv-manifests FILE...")
		os.Exit(2)
	}
	results := make([]fileResult, 0, len(os.Args)-1)
	for _, path := range os.Args[1:] {
		r := fileResult{File: path}
		data, err := os.ReadFile(path)
		if err == nil {
			r.Documents, err = decode(data)
		}
		if err != nil {
			r.Error = err.Error()
		}
		results = append(results, r)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	if err := out.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "kube-testenv-manifests:", err)
		os.Exit(1)
	}
}
