package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// conn is a minimal HTTP/1.1 keep-alive client on one connection. The load
// generator shares the CPUs with the server it measures, so it must cost as
// little as possible per request: requests are pre-formatted bytes and the
// response parser reads only the status, Content-Length, Transfer-Encoding,
// Connection, Location and Set-Cookie.
type conn struct {
	addr    string // host:port
	tls     *tls.Config
	c       net.Conn
	br      *bufio.Reader
	body    []byte // last response body, reused
	timeout time.Duration
}

// response is what one request returned. Body is valid until the next
// request on the same conn.
type response struct {
	Status    int
	Body      []byte
	Location  string
	SetCookie []string
}

func newConn(target *url.URL, timeout time.Duration) *conn {
	c := &conn{addr: hostPort(target), timeout: timeout}
	if target.Scheme == "https" {
		c.tls = &tls.Config{ServerName: target.Hostname(), MinVersion: tls.VersionTLS12}
	}
	return c
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

func (c *conn) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: c.timeout}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	if c.tls != nil {
		tc := tls.Client(nc, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return err
		}
		nc = tc
	}
	c.c = nc
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 16<<10)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// do sends req (a complete HTTP/1.1 request) and reads the response. A
// request that fails on a kept-alive connection before any byte of the
// response arrived is retried once on a new connection (the server may have
// closed an idle connection).
func (c *conn) do(ctx context.Context, req []byte) (*response, error) {
	for attempt := 0; ; attempt++ {
		fresh := false
		if c.c == nil {
			if err := c.dial(ctx); err != nil {
				return nil, err
			}
			fresh = true
		}
		if dl, ok := ctx.Deadline(); ok && c.timeout > 0 {
			_ = c.c.SetDeadline(earlier(dl, time.Now().Add(c.timeout)))
		} else if c.timeout > 0 {
			_ = c.c.SetDeadline(time.Now().Add(c.timeout))
		}
		resp, started, err := c.roundTrip(req)
		if err == nil {
			return resp, nil
		}
		c.close()
		if fresh || started || attempt > 0 {
			return nil, err
		}
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

var errMalformed = errors.New("bench: malformed HTTP response")

func (c *conn) roundTrip(req []byte) (resp *response, started bool, err error) {
	if _, err := c.c.Write(req); err != nil {
		return nil, false, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, len(line) > 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, true, errMalformed
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, true, errMalformed
	}
	r := &response{Status: status}
	length, chunked, closeAfter := -1, false, false
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return nil, true, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return nil, true, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return nil, true, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("Location")):
			r.Location = string(value)
		case bytes.EqualFold(name, []byte("Set-Cookie")):
			r.SetCookie = append(r.SetCookie, string(value))
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		if c.body, err = readChunked(c.br, c.body); err != nil {
			return nil, true, err
		}
	case length >= 0:
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		c.body = c.body[:length]
		if _, err := io.ReadFull(c.br, c.body); err != nil {
			return nil, true, err
		}
	default:
		// No length: the body runs to the end of the connection.
		b, err := io.ReadAll(c.br)
		if err != nil {
			return nil, true, err
		}
		c.body, closeAfter = b, true
	}
	r.Body = c.body
	if closeAfter {
		c.close()
	}
	return r, true, nil
}

func readChunked(br *bufio.Reader, dst []byte) ([]byte, error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		sz, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(sz)), 16, 32)
		if err != nil || n < 0 {
			return nil, errMalformed
		}
		if n == 0 {
			for { // trailers
				t, err := br.ReadSlice('\n')
				if err != nil {
					return nil, err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return dst, nil
				}
			}
		}
		start := len(dst)
		dst = append(dst, make([]byte, n)...)
		if _, err := io.ReadFull(br, dst[start:]); err != nil {
			return nil, err
		}
		if _, err := br.Discard(2); err != nil {
			return nil, err
		}
	}
}

// request formats an HTTP/1.1 request. headers are "Name: value" lines.
func request(method string, target *url.URL, path string, headers []string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: multinexo-bench\r\n", method, path, target.Host)
	for _, h := range headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if body != nil || method == "POST" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
