package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlite"
)

type result struct {
	status         int
	stdout, stderr string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	st := Main(args, Env{Ctx: t.Context(), Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb})
	return result{st, out.String(), errb.String()}
}

// newDB returns the path and --db value of a SQLite database created with
// `multinexo migrate`, as an operator's commands find it.
func newDB(t *testing.T) (path, db string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "m.db")
	db = "sqlite:" + path
	if r := run(t, "", "--db", db, "migrate"); r.status != 0 {
		t.Fatalf("migrate: %+v", r)
	}
	return path, db
}

func TestUsageErrorsExitTwo(t *testing.T) {
	_, db := newDB(t)
	for name, args := range map[string][]string{
		"unknown flag":    {"serve", "--no-such-flag"},
		"unknown command": {"frobnicate"},
		"bad db":          {"--db", "mysql://x", "migrate"},
		"bad issuer":      {"--db", db, "serve", "--issuer", "localhost:8080"},
		"bad duration":    {"--db", db, "serve", "--access-ttl", "soon"},
		"bad alg":         {"--db", db, "serve", "--access-alg", "HS256"},
		"bad client type": {"--db", db, "clients", "create", "--name", "x", "--type", "secret"},
		"bad grant":       {"--db", db, "clients", "create", "--name", "x", "--grant", "magic"},
		"bad redirect":    {"--db", db, "clients", "create", "--name", "x", "--redirect-uri", "http://evil.example/cb"},
		"bad id alg":      {"--db", db, "clients", "create", "--name", "x", "--id-token-alg", "HS256"},
		"account 3rd pty": {"--db", db, "clients", "create", "--name", "x", "--grant", "client_credentials", "--scope", "account"},
		"bench id alg":    {"--db", db, "bench", "--client-id", "c", "--client-secret", "s", "--id-token-alg", "ES256"},
		"missing email":   {"--db", db, "users", "create", "--first-name", "a", "--last-name", "b"},
		"bad log level":   {"--log-level", "loud", "version"},
	} {
		r := run(t, "", args...)
		if r.status != 2 {
			t.Errorf("%s: status %d, want 2 (stderr %q)", name, r.status, r.stderr)
		}
		if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); !strings.HasPrefix(r.stderr, "multinexo: ") || lines > 0 && !strings.Contains(r.stderr, "Usage") {
			t.Errorf("%s: stderr %q, want one line starting with multinexo:", name, r.stderr)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	if r := run(t, "", "version"); r.status != 0 || !strings.HasPrefix(r.stdout, "multinexo ") {
		t.Fatalf("version: %+v", r)
	}
	if r := run(t, "", "clients", "create", "--help"); r.status != 0 || !strings.Contains(r.stdout, "--redirect-uri") {
		t.Fatalf("help: %+v", r)
	}
}

func TestClientsAndUsersCommands(t *testing.T) {
	_, db := newDB(t)
	r := run(t, "", "--db", db, "clients", "create", "--name", "Mi app", "--grant", "password", "--grant", "refresh_token", "--scope", "openid", "--scope", "voucher")
	if r.status != 0 {
		t.Fatalf("clients create: %+v", r)
	}
	var c struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		Grants       []string `json:"grants"`
		Scopes       []string `json:"scopes"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.ClientID == "" || len(c.ClientSecret) < 43 {
		t.Fatalf("clients create output %q: %v", r.stdout, err)
	}
	if strings.Join(c.Grants, " ") != "password refresh_token" || strings.Join(c.Scopes, " ") != "openid voucher" {
		t.Fatalf("grants %v scopes %v", c.Grants, c.Scopes)
	}
	r = run(t, "", "--db", db, "clients", "list")
	if r.status != 0 || !strings.Contains(r.stdout, c.ClientID) || strings.Contains(r.stdout, c.ClientSecret) || strings.Contains(r.stdout, "client_secret") {
		t.Fatalf("clients list must show the client and never a secret: %+v", r)
	}
	r = run(t, "", "--db", db, "clients", "rotate-secret", c.ClientID)
	if r.status != 0 || !strings.Contains(r.stdout, "mnx_cs_") || strings.Contains(r.stdout, c.ClientSecret) {
		t.Fatalf("rotate: %+v", r)
	}
	r = run(t, "", "--db", db, "clients", "delete", c.ClientID)
	if r.status != 0 {
		t.Fatalf("delete: %+v", r)
	}
	if r = run(t, "", "--db", db, "clients", "delete", c.ClientID); r.status != 1 {
		t.Fatalf("delete twice: %+v", r)
	}
	es := run(t, "", "--db", db, "clients", "create", "--name", "Rápida", "--grant", "password", "--id-token-alg", "ES256")
	if es.status != 0 || !strings.Contains(es.stdout, `"id_token_signed_response_alg": "ES256"`) {
		t.Fatalf("clients create --id-token-alg ES256: %+v", es)
	}
	pub := run(t, "", "--db", db, "clients", "create", "--name", "SPA", "--type", "public", "--redirect-uri", "https://spa.example.com/cb")
	if pub.status != 0 || strings.Contains(pub.stdout, "client_secret") {
		t.Fatalf("public client: %+v", pub)
	}

	// First party: marked, or by the password grant; account allowed.
	fp := run(t, "", "--db", db, "clients", "create", "--name", "Portal", "--first-party", "--redirect-uri", "https://portal.example/cb", "--scope", "openid", "--scope", "account")
	if fp.status != 0 || !strings.Contains(fp.stdout, `"first_party": true`) || !strings.Contains(fp.stdout, `"offline_access_required": false`) {
		t.Fatalf("clients create --first-party: %+v", fp)
	}
	strict := run(t, "", "--db", db, "clients", "create", "--name", "Estricta", "--redirect-uri", "https://s.example/cb", "--offline-access-required")
	if strict.status != 0 || !strings.Contains(strict.stdout, `"offline_access_required": true`) {
		t.Fatalf("clients create --offline-access-required: %+v", strict)
	}
	if !strings.Contains(es.stdout, `"first_party": true`) || !strings.Contains(pub.stdout, `"first_party": false`) {
		t.Fatalf("first_party of a password client / a developer's: %s %s", es.stdout, pub.stdout)
	}

	r = run(t, "correct horse battery staple\n", "--db", db, "users", "create", "--email", "Admin@Example.com", "--first-name", "Ana", "--last-name", "Pérez", "--admin")
	if r.status != 0 || !strings.Contains(r.stdout, `"admin": true`) || strings.Contains(r.stdout, "horse") || !strings.Contains(r.stdout, `"email_verified": false`) {
		t.Fatalf("users create: %+v", r)
	}
	// The operator vouches for an address.
	r = run(t, "correct horse battery staple\n", "--db", db, "users", "create", "--email", "eva@example.com", "--first-name", "Eva", "--last-name", "Gil", "--email-verified")
	if r.status != 0 || !strings.Contains(r.stdout, `"email_verified": true`) {
		t.Fatalf("users create --email-verified: %+v", r)
	}
	if r = run(t, "correct horse battery staple\n", "--db", db, "users", "create", "--email", "admin@example.com", "--first-name", "A", "--last-name", "B"); r.status != 1 {
		t.Fatalf("duplicate email: %+v", r)
	}
	if r = run(t, "", "--db", db, "users", "create", "--email", "b@example.com", "--first-name", "A", "--last-name", "B"); r.status != 2 {
		t.Fatalf("no password on stdin: %+v", r)
	}
	if r = run(t, "short\n", "--db", db, "users", "create", "--email", "b@example.com", "--first-name", "A", "--last-name", "B"); r.status != 2 {
		t.Fatalf("short password: %+v", r)
	}
	r = run(t, "", "--db", db, "users", "list")
	if r.status != 0 || strings.Count(r.stdout, `"email"`) != 2 || strings.Contains(r.stdout, "argon2") {
		t.Fatalf("users list: %+v", r)
	}
	if r = run(t, "", "--db", db, "users", "disable", "ADMIN@example.com"); r.status != 0 {
		t.Fatalf("disable: %+v", r)
	}
	if r = run(t, "", "--db", db, "keys", "rotate"); r.status != 0 {
		t.Fatalf("keys rotate: %+v", r)
	}
	if r = run(t, "", "--db", db, "migrate"); r.status != 0 {
		t.Fatalf("migrate: %+v", r)
	}
}

// serving is a `serve` running in process: its log lines up to and
// including "multinexo listening", and its exit status once ctx ends.
type serving struct {
	lines []map[string]any
	addr  string
	done  chan int
}

// startServe runs Main with args (which should hold a --db and a serve
// command) until it logs where it listens; the server stops with ctx.
func startServe(t *testing.T, ctx context.Context, environ []string, args ...string) *serving {
	t.Helper()
	pr, pw := io.Pipe()
	s := &serving{done: make(chan int, 1)}
	go func() {
		s.done <- Main(args, Env{Ctx: ctx, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: pw, Environ: environ})
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		s.lines = append(s.lines, line)
		if line["msg"] == "multinexo listening" {
			s.addr, _ = line["addr"].(string)
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if s.addr == "" {
		t.Fatalf("no listening line in %v", s.lines)
	}
	return s
}

// line returns the first log line with msg, or nil.
func (s *serving) line(msg string) map[string]any {
	for _, l := range s.lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// TestServeShutsDownGracefully runs `serve` in process, checks the health
// endpoints, and cancels it as SIGTERM would.
func TestServeShutsDownGracefully(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	s := startServe(t, ctx, []string{"MULTINEXO_TYPO=1"},
		"--db", "sqlite:"+filepath.Join(dir, "m.db"), "serve", "--addr", "127.0.0.1:0", "--debug-addr", "127.0.0.1:0")
	addr := s.addr
	var warned bool
	for _, line := range s.lines {
		if line["name"] == "MULTINEXO_TYPO" {
			warned = true
		}
	}
	debugAddr, _ := s.line("profiles served (pprof)")["addr"].(string)
	if s.line("multinexo listening")["database"] != "sqlite" {
		t.Errorf("listening line %v lacks the database", s.line("multinexo listening"))
	}
	if !warned {
		t.Fatalf("no warning for an unknown variable")
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + addr + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	// Profiles only on the loopback debug listener, never on the public one.
	if resp, err := http.Get("http://" + debugAddr + "/debug/pprof/cmdline"); err != nil || resp.StatusCode != 200 {
		t.Errorf("debug listener %q: %v %v", debugAddr, resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline"); err != nil || resp.StatusCode == 200 {
		t.Errorf("public listener serves profiles: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	select {
	case st := <-s.done:
		if st != 0 {
			t.Fatalf("serve exited %d", st)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeIssuerFollowsAddr: with --addr and no --issuer the issuer is the
// address served (the port chosen for :0 included), logged at start and
// advertised by discovery, so go-oidc's exact issuer check passes; an
// --issuer the server cannot be reached at is warned about.
func TestServeIssuerFollowsAddr(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "m.db")
	ctx, cancel := context.WithCancel(t.Context())
	s := startServe(t, ctx, nil, "--db", db, "serve", "--addr", "127.0.0.1:0")
	want := "http://" + s.addr
	if l := s.line("multinexo listening"); l["issuer"] != want || l["issuer_from"] != "--addr" {
		t.Errorf("listening line %v; want issuer %s from --addr", l, want)
	}
	if l := s.line("issuer unreachable at the address served"); l != nil {
		t.Errorf("warning for a derived issuer: %v", l)
	}
	resp, err := http.Get(want + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.Issuer != want || !strings.HasPrefix(disc.TokenEndpoint, want+"/") {
		t.Errorf("discovery %+v (%v); want issuer %s", disc, err, want)
	}
	cancel()
	<-s.done

	// An explicit --issuer still wins, and one naming another port is warned about.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	s = startServe(t, ctx, nil, "--db", db, "serve", "--addr", "127.0.0.1:0", "--issuer", "http://localhost:8080")
	if l := s.line("multinexo listening"); l["issuer"] != "http://localhost:8080" || l["issuer_from"] != "--issuer" {
		t.Errorf("listening line %v; want the --issuer", l)
	}
	w := s.line("issuer unreachable at the address served")
	if w == nil || w["level"] != "WARN" || w["issuer"] != "http://localhost:8080" {
		t.Errorf("no WARN for an issuer on another port: %v", s.lines)
	}
	cancel()
	<-s.done
}

func TestOperatorActionsAreRecorded(t *testing.T) {
	path, db := newDB(t)
	r := run(t, "", "--db", db, "clients", "create", "--name", "App", "--grant", "client_credentials")
	var c struct {
		ClientID string `json:"client_id"`
	}
	if r.status != 0 || json.Unmarshal([]byte(r.stdout), &c) != nil {
		t.Fatalf("create: %+v", r)
	}
	run(t, "", "--db", db, "clients", "rotate-secret", c.ClientID)
	run(t, "", "--db", db, "clients", "delete", c.ClientID)
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _, err := st.ListEvents(t.Context(), store.ListOptions{Sort: "time"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if strings.Join(types, " ") != "client.created client.secret_rotated client.deleted" {
		t.Fatalf("events %v", types)
	}
}

func TestResetMFA(t *testing.T) {
	path, db := newDB(t)
	if r := run(t, "correct horse battery staple\n", "--db", db, "users", "create", "--email", "a@example.com", "--first-name", "A", "--last-name", "B"); r.status != 0 {
		t.Fatalf("create: %+v", r)
	}
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByEmailKey(t.Context(), account.EmailKey("a@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPendingTOTP(t.Context(), u.ID, []byte("sealed"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.EnableTOTP(t.Context(), u.ID, []byte("sealed"), 1, [][]byte{[]byte("h")}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"k1", "k2"} {
		if err := st.CreatePasskey(t.Context(), &store.Passkey{CredentialID: []byte(id), UserID: u.ID, PublicKey: []byte("pk"), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, "", "--db", db, "users", "reset-mfa", "a@example.com"); r.status != 0 || !strings.Contains(r.stdout, "2") {
		t.Fatalf("reset-mfa: %+v", r)
	}
	if keys, err := st.ListPasskeys(t.Context(), u.ID); err != nil || len(keys) != 0 {
		t.Fatalf("passkeys left after reset-mfa: %d %v", len(keys), err)
	}
	u, err = st.GetUser(t.Context(), u.ID)
	if err != nil || u.TOTPSecret != nil || !u.TOTPEnabledAt.IsZero() {
		t.Fatalf("second factor still there: %+v %v", u, err)
	}
	if r := run(t, "", "--db", db, "users", "reset-mfa", "nobody@example.com"); r.status != 1 {
		t.Fatalf("unknown user: %+v", r)
	}
}

// TestHelpIsBilingual: every command, flag and argument has a help text in
// Spanish and then English ("… / …"), the help flag included, and a
// subcommand's help does not repeat the global flags.
func TestHelpIsBilingual(t *testing.T) {
	var c CLI
	parser, err := newParser(&c, &Env{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	var check func(n *kong.Node)
	check = func(n *kong.Node) {
		name := n.FullPath()
		if n.Parent != nil && !n.Hidden && !strings.Contains(n.Help, " / ") {
			t.Errorf("command %q: help %q is not \"español / English\"", name, n.Help)
		}
		for _, f := range n.Flags {
			if !strings.Contains(f.Help, " / ") {
				t.Errorf("%s --%s: help %q is not \"español / English\"", name, f.Name, f.Help)
			}
		}
		for _, p := range n.Positional {
			if !strings.Contains(p.Help, " / ") {
				t.Errorf("%s %s: help %q is not \"español / English\"", name, p.Name, p.Help)
			}
		}
		for _, ch := range n.Children {
			check(ch)
		}
	}
	check(parser.Model.Node)

	top := run(t, "", "--help")
	if top.status != 0 || !strings.Contains(top.stdout, "--db") || !strings.Contains(top.stdout, "Muestra esta ayuda") {
		t.Fatalf("top-level help: %+v", top)
	}
	for _, args := range [][]string{{"keys", "rotate", "--help"}, {"users", "set-password", "--help"}, {"clients", "create", "--help"}} {
		r := run(t, "", args...)
		if r.status != 0 || strings.Contains(r.stdout, `--log-level="`) || !strings.Contains(r.stdout, "multinexo --help") {
			t.Errorf("%v: global flags repeated, or no pointer to them: %+v", args, r)
		}
	}
	if r := run(t, "", "keys", "rotate", "--help"); !strings.Contains(r.stdout, "--access-alg") || !strings.Contains(r.stdout, "access-token key") {
		t.Errorf("keys rotate --help does not describe --access-alg: %s", r.stdout)
	}
}

// TestCommandsRefuseMissingDatabase: run outside the server's directory, an
// operator command must not create an empty database and succeed into it;
// it names the path it tried and exits 2. serve and migrate create one.
func TestCommandsRefuseMissingDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nope.db")
	db := "sqlite:" + path
	for _, args := range [][]string{
		{"clients", "list"},
		{"clients", "create", "--name", "x", "--grant", "client_credentials"},
		{"clients", "delete", "c"},
		{"clients", "rotate-secret", "c"},
		{"users", "list"},
		{"users", "create", "--email", "a@example.com", "--first-name", "A", "--last-name", "B"},
		{"users", "disable", "a@example.com"},
		{"users", "enable", "a@example.com"},
		{"users", "admin", "a@example.com"},
		{"users", "admin", "--remove", "a@example.com"},
		{"users", "set-password", "a@example.com"},
		{"users", "reset-mfa", "a@example.com"},
		{"keys", "rotate"},
		{"bench", "--duration", "1s"},
	} {
		r := run(t, "correct horse battery staple\n", append([]string{"--db", db}, args...)...)
		if r.status != 2 || !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, "no such database") {
			t.Errorf("%v: status %d, stderr %q; want 2 naming %s", args, r.status, r.stderr, path)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("%v created %s", args, path)
		}
	}
	// A relative path is shown as the absolute path tried.
	t.Chdir(dir)
	if r := run(t, "", "--db", "sqlite:nope.db", "clients", "list"); r.status != 2 || !strings.Contains(r.stderr, path) {
		t.Errorf("relative path: %+v; want %s named", r, path)
	}
	if r := run(t, "", "--db", db, "migrate"); r.status != 0 {
		t.Fatalf("migrate creates the database: %+v", r)
	}
	if r := run(t, "", "--db", db, "clients", "list"); r.status != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("clients list after migrate: %+v", r)
	}
}

// TestUsersEnableAdminSetPassword: the operator verbs act on the user named
// by id or email, and each is a recorded event.
func TestUsersEnableAdminSetPassword(t *testing.T) {
	path, db := newDB(t)
	if r := run(t, "correct horse battery staple\n", "--db", db, "users", "create", "--email", "ana@example.com", "--first-name", "Ana", "--last-name", "Gil"); r.status != 0 {
		t.Fatalf("create: %+v", r)
	}
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.GetUserByEmailKey(t.Context(), account.EmailKey("ana@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	user := func() *store.User {
		t.Helper()
		u, err := st.GetUser(t.Context(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}

	if r := run(t, "", "--db", db, "users", "disable", "ana@example.com"); r.status != 0 || !user().Disabled {
		t.Fatalf("disable: %+v", r)
	}
	if r := run(t, "", "--db", db, "users", "enable", u.ID); r.status != 0 || user().Disabled {
		t.Fatalf("enable by id: %+v %+v", r, user())
	}
	if r := run(t, "", "--db", db, "users", "admin", "ANA@example.com"); r.status != 0 || !user().Admin {
		t.Fatalf("admin: %+v", r)
	}
	if r := run(t, "", "--db", db, "users", "admin", "--remove", "ana@example.com"); r.status != 0 || user().Admin {
		t.Fatalf("admin --remove: %+v", r)
	}
	if r := run(t, "", "--db", db, "users", "set-admin", u.ID); r.status != 0 || !user().Admin {
		t.Fatalf("set-admin: %+v", r)
	}
	if r := run(t, "", "--db", db, "users", "unset-admin", u.ID); r.status != 0 || user().Admin {
		t.Fatalf("unset-admin: %+v", r)
	}
	if r := run(t, "", "--db", db, "users", "enable", "nobody@example.com"); r.status != 1 {
		t.Fatalf("enable an unknown user: %+v", r)
	}

	// set-password: the usual rules, stdin, and every session ends.
	now := time.Now()
	if err := st.CreateSession(t.Context(), &store.Session{ID: "s1", SecretHash: []byte("h"), UserID: u.ID, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "", "--db", db, "users", "set-password", "ana@example.com"); r.status != 2 || !strings.Contains(r.stderr, "entrada estándar") {
		t.Fatalf("set-password without stdin: %+v", r)
	}
	for _, bad := range []string{"short\n", "password\n", "ana@example.com\n"} {
		if r := run(t, bad, "--db", db, "users", "set-password", "ana@example.com"); r.status != 2 {
			t.Fatalf("set-password %q accepted: %+v", bad, r)
		}
	}
	old := user().PasswordHash
	r := run(t, "a new and long passphrase\n", "--db", db, "users", "set-password", "ana@example.com")
	if r.status != 0 || strings.Contains(r.stdout+r.stderr, "passphrase") || user().PasswordHash == old {
		t.Fatalf("set-password: %+v", r)
	}
	if _, err := st.GetSession(t.Context(), "s1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session kept after set-password: %v", err)
	}
	svc := account.NewService(st, account.Config{})
	if _, err := svc.Authenticate(t.Context(), "ana@example.com", "a new and long passphrase", "127.0.0.1"); err != nil {
		t.Fatalf("new password refused: %v", err)
	}

	evs, _, err := st.ListEvents(t.Context(), store.ListOptions{Sort: "time"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		if e.UserID == u.ID && e.Type != "user.registered" && e.Type != "login.succeeded" {
			types = append(types, e.Type)
		}
	}
	want := "user.disabled user.enabled user.admin_granted user.admin_removed user.admin_granted user.admin_removed password.changed"
	if strings.Join(types, " ") != want {
		t.Fatalf("events %v, want %s", types, want)
	}
}

func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "9c6588053a16"}, {Key: "vcs.time", Value: "2026-12-06T02:05:10Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	for _, c := range []struct {
		linked string
		bi     *debug.BuildInfo
		want   string
	}{
		{"dev", bi, "multinexo v1.2.3 (revisión / revision 9c6588053a16, 2026-12-06T02:05:10Z, con cambios sin confirmar / modified) go1.26.8"},
		{"v2.0.0", bi, "multinexo v2.0.0 (revisión / revision 9c6588053a16, 2026-12-06T02:05:10Z, con cambios sin confirmar / modified) go1.26.8"},
		{"dev", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "multinexo (devel) go1.26.8"},
		{"dev", nil, "multinexo dev"},
	} {
		if got := versionLine(c.linked, c.bi); got != c.want {
			t.Errorf("versionLine(%q, …) = %q; want %q", c.linked, got, c.want)
		}
	}
	if r := run(t, "", "version"); r.status != 0 || strings.TrimSpace(r.stdout) == "multinexo dev" {
		t.Errorf("version prints no build information: %+v", r)
	}
}

// TestServeRefusesIssuerWithoutPasskeys: with --passkeys on, an issuer
// that browsers would not accept as a passkey's relying party stops serve,
// saying why and how to go on without passkeys.
func TestServeRefusesIssuerWithoutPasskeys(t *testing.T) {
	_, db := newDB(t)
	r := run(t, "", "--db", db, "serve", "--addr", "127.0.0.1:0", "--issuer", "http://127.0.0.1:8080", "--passkeys", "on")
	if r.status == 0 || !strings.Contains(r.stderr, "IP address") || !strings.Contains(r.stderr, "--passkeys off") {
		t.Fatalf("serve with an IP issuer: %+v", r)
	}
}
