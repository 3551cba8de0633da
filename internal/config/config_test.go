package config

import (
	"slices"
	"testing"
	"time"
)

func TestParseDB(t *testing.T) {
	for in, want := range map[string]Backend{
		"sqlite:multinexo.db":              {Kind: "sqlite", Path: "multinexo.db"},
		"sqlite:///var/lib/m.db":           {Kind: "sqlite", Path: "/var/lib/m.db"},
		"postgres://u@h/db":                {Kind: "postgres", URL: "postgres://u@h/db"},
		"postgresql://u@h/db?sslmode=none": {Kind: "postgres", URL: "postgresql://u@h/db?sslmode=none"},
	} {
		got, err := ParseDB(in)
		if err != nil || got != want {
			t.Errorf("ParseDB(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "multinexo.db", "sqlite:", "mysql://x", "postgres://%zz"} {
		if _, err := ParseDB(in); err == nil {
			t.Errorf("ParseDB(%q) accepted", in)
		}
	}
	if (Backend{Kind: "sqlite", Path: "dir/m.db"}).SecretFile() != "dir/m.db.secret" {
		t.Error("secret file not beside the database")
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("postgres://u:hunter2@h/db"); got != "postgres://u:xxxxx@h/db" {
		t.Errorf("Redact = %q", got)
	}
}

func TestServeValidate(t *testing.T) {
	ok := Serve{Issuer: "https://auth.example.com", AccessTTL: 900 * time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060"} {
		ok.DebugAddr = addr
		if err := ok.Validate(); err != nil {
			t.Errorf("--debug-addr %s: %v", addr, err)
		}
	}
	ok.DebugAddr = ""
	for _, bad := range []Serve{
		{Issuer: "auth.example.com", AccessTTL: time.Minute},
		{Issuer: "https://auth.example.com/", AccessTTL: time.Minute},
		{Issuer: "https://auth.example.com?x=1", AccessTTL: time.Minute},
		{Issuer: "ftp://auth.example.com", AccessTTL: time.Minute},
		{Issuer: "https://a.example.com", AccessTTL: time.Second},
		{Issuer: "https://a.example.com", AccessTTL: time.Minute, RefreshGrace: -time.Second},
		// Profiles expose process memory: loopback only.
		{Issuer: "https://a.example.com", AccessTTL: time.Minute, DebugAddr: "0.0.0.0:6060"},
		{Issuer: "https://a.example.com", AccessTTL: time.Minute, DebugAddr: ":6060"},
		{Issuer: "https://a.example.com", AccessTTL: time.Minute, DebugAddr: "localhost:6060"},
		{Issuer: "https://a.example.com", AccessTTL: time.Minute, DebugAddr: "10.0.0.1:6060"},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"MULTINEXO_DB=x", "MULTINEXO_DBB=y", "MULTINEXO_TEST_POSTGRES=z", "HOME=/"}, []string{"MULTINEXO_DB"})
	if !slices.Equal(got, []string{"MULTINEXO_DBB"}) {
		t.Fatalf("UnknownEnv = %v", got)
	}
}

func TestServeValidateMail(t *testing.T) {
	base := Serve{Issuer: "https://auth.example.com", AccessTTL: 900 * time.Second}
	for _, good := range []Serve{
		{SMTPURL: "smtp://relay.example.com:587"},
		{SMTPURL: "smtps://u:p%40ss@relay.example.com:465", MailFrom: "Multinexo <no-reply@example.com>"},
		{MailFrom: "no-reply@example.com"},
	} {
		s := base
		s.SMTPURL, s.MailFrom = good.SMTPURL, good.MailFrom
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", good, err)
		}
	}
	for _, bad := range []Serve{
		{SMTPURL: "http://relay.example.com"},
		{SMTPURL: "relay.example.com:587"},
		{SMTPURL: "smtp://"},
		{MailFrom: "not an address"},
	} {
		s := base
		s.SMTPURL, s.MailFrom = bad.SMTPURL, bad.MailFrom
		if s.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
