// Package web is canopy's reference front end: plain HTML, CSS and
// JavaScript modules, with no build step, embedded in the binary and served
// at / by package server.
package web

import "embed"

// Files holds index.html and everything under assets/, at those paths.
//
//go:embed index.html assets
var Files embed.FS
