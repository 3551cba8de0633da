package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSendResetAndMailList: the operator queues a reset link; mail list
// shows the message's state and never its link.
func TestSendResetAndMailList(t *testing.T) {
	_, db := newDB(t)
	if r := run(t, "una contraseña larga\n", "--db", db, "users", "create", "--email", "ana@example.com", "--first-name", "Ana", "--last-name", "P"); r.status != 0 {
		t.Fatalf("create: %+v", r)
	}
	if r := run(t, "", "--db", db, "users", "send-reset", "nadie@example.com"); r.status == 0 {
		t.Fatalf("send-reset to an unknown address: %+v", r)
	}
	r := run(t, "", "--db", db, "users", "send-reset", "ANA@example.com", "--issuer", "https://auth.example.com")
	if r.status != 0 || !strings.Contains(r.stdout, "queued") {
		t.Fatalf("send-reset: %+v", r)
	}
	r = run(t, "", "--db", db, "mail", "list")
	var l []map[string]any
	if r.status != 0 || json.Unmarshal([]byte(r.stdout), &l) != nil || len(l) != 1 {
		t.Fatalf("mail list: %+v", r)
	}
	if l[0]["kind"] != "reset" || l[0]["state"] != "queued" || l[0]["to"] != "ana@example.com" || l[0]["next_attempt_at"] == nil {
		t.Fatalf("listed %v", l[0])
	}
	if strings.Contains(r.stdout, "token") || strings.Contains(r.stdout, "reset-password") {
		t.Fatalf("mail list shows a link: %s", r.stdout)
	}
	if r := run(t, "", "--db", db, "mail", "list", "--state", "sent"); r.status != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("mail list --state sent: %+v", r)
	}
}

// TestSetPasswordMailsNotice: the operator's new password is announced to
// the account's address.
func TestSetPasswordMailsNotice(t *testing.T) {
	_, db := newDB(t)
	if r := run(t, "una contraseña larga\n", "--db", db, "users", "create", "--email", "ana@example.com", "--first-name", "Ana", "--last-name", "P"); r.status != 0 {
		t.Fatalf("create: %+v", r)
	}
	if r := run(t, "otra contraseña larga\n", "--db", db, "users", "set-password", "ana@example.com"); r.status != 0 {
		t.Fatalf("set-password: %+v", r)
	}
	r := run(t, "", "--db", db, "mail", "list")
	if r.status != 0 || !strings.Contains(r.stdout, `"kind": "password_updated"`) {
		t.Fatalf("mail list: %+v", r)
	}
}
