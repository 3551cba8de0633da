// Package httpx holds the HTTP plumbing shared by every route class: request
// ids, access logging that never records secrets, panic recovery, body limits,
// the security headers of browser pages, and the adapter that lets handlers
// return errors (the public message apart from the logged cause).
package httpx
