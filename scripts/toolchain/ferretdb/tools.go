//go:build tools

// Package tools pins FerretDB so that `go build` resolves it from this module's
// go.sum (the plain `go install ...@v1.24.2` path asks the proxy for the module's
// version list, which the registry mirror may refuse).
package tools

import _ "github.com/FerretDB/FerretDB/cmd/ferretdb"
