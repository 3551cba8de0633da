package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// layoutProblems runs in the page and lists what a person would see as
// broken, in words:
//   - the page is wider than the window (sideways scrolling of the whole
//     page; on a phone a table may scroll inside its own box, on a laptop
//     it fits);
//   - the brand and the navigation links overlap, or a link breaks in two;
//   - a word in a table, a button, a tag or the navigation is split across
//     lines ("Desh/abilit/ar", "127.0.0. 1");
//   - the brand and the links touch, or the links take more than one line
//     on a laptop or two on a phone;
//   - the buttons of one row (confirmation, consent) are not level, not
//     the same height, or their texts are not level;
//   - the page has no header or no way back (error pages).
const layoutProblems = `(() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) out.push("page wider than the window: " + doc.scrollWidth + " > " + window.innerWidth);
  const brand = document.querySelector("header .brand");
  if (!brand) out.push("no header brand");
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const links = [...document.querySelectorAll("header nav a")];
  for (const a of links) {
    if (brand && overlap(brand.getBoundingClientRect(), a.getBoundingClientRect())) out.push("brand overlaps nav link " + a.textContent);
    if (a.getClientRects().length > 1) out.push("nav link breaks: " + a.textContent);
  }
  // Touching is colliding too ("MultinexoAplicaciones conectadas").
  if (brand) for (const a of links) {
    const b = brand.getBoundingClientRect(), r = a.getBoundingClientRect();
    if (r.top < b.bottom && b.top < r.bottom && r.left < b.right + 8) out.push("nav link touches the brand: " + a.textContent);
  }
  const navLines = new Set(links.map(a => Math.round(a.getBoundingClientRect().top))).size;
  if (navLines > (window.innerWidth >= 1000 ? 1 : 2)) out.push("nav on " + navLines + " lines");
  for (let i = 0; i < links.length; i++) for (let j = i + 1; j < links.length; j++)
    if (overlap(links[i].getBoundingClientRect(), links[j].getBoundingClientRect())) out.push("nav links overlap: " + links[i].textContent + " / " + links[j].textContent);
  const split = (el, urlsMayBreak) => {
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      if (urlsMayBreak && n.parentElement.closest("code")) continue;
      const re = /\S+/g; let m;
      while ((m = re.exec(n.data))) {
        const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
        const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
        if (tops.size > 1) out.push("word split across lines: " + m[0]);
      }
    }
  };
  document.querySelectorAll("td, th, button, .button, .tag, header nav a, .tabs a").forEach(el => split(el, false));
  // Facts (dt/dd): words stay whole; a long address in code may break.
  document.querySelectorAll(".facts dt, .facts dd").forEach(el => split(el, true));
  document.querySelectorAll(".buttons").forEach(row => {
    const kids = [...row.children].filter(k => k.offsetParent !== null && k.type !== "hidden");
    for (const k of kids.slice(1)) {
      const a = kids[0].getBoundingClientRect(), b = k.getBoundingClientRect();
      const mid = (el) => { const r = document.createRange(); r.selectNodeContents(el); const x = r.getBoundingClientRect(); return x.top + x.height / 2; };
      if (Math.abs(mid(kids[0]) - mid(k)) > 3) out.push("button texts not level: " + kids[0].textContent.trim() + " / " + k.textContent.trim());
      if (Math.abs(a.top - b.top) > 2 || Math.abs(a.height - b.height) > 2) out.push("buttons not level: " + kids[0].textContent.trim() + " / " + k.textContent.trim() + " " + [a.top, a.height, b.top, b.height].map(Math.round).join(","));
    }
  });
  // On a laptop every table fits its card: nothing hides sideways.
  if (window.innerWidth >= 1000) document.querySelectorAll(".scroll").forEach(s => {
    if (s.scrollWidth > s.clientWidth + 1) out.push("table needs sideways scrolling: " + s.scrollWidth + " > " + s.clientWidth);
  });
  if (!document.querySelector("main a[href]") && !document.querySelector("header nav a")) out.push("no link anywhere to go on");
  return out;
})()`

// TestBrowserLayout opens every page in Chromium at 375 px (a phone) and
// 1280 px (a laptop) and checks the layout; with MULTINEXO_SCREENSHOTS=dir
// it saves each as dir/screens/<width>-<page>.png (docs/screens holds the
// set).
func TestBrowserLayout(t *testing.T) {
	x := newE2E(t)
	admin := x.newUser("jefa@example.com", true)
	// A long-named application of the admin's own, and a connection.
	app, _, err := clients.Create(t.Context(), x.st.DB, clients.CreateInput{
		Name: "Aplicación de Facturación Electrónica", RedirectURIs: []string{"https://facturas.example.com/oauth/callback"}, OwnerID: admin.ID, SelfService: true,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	x.as("jefa@example.com").tokens(webApp, "web-secret", webRedirect, "openid profile offline_access")
	x.as(testEmail).tokens(webApp, "web-secret", webRedirect, "openid")
	// A protected resource with a long URI, for /admin/resources.
	if err := x.st.CreateResource(t.Context(), &store.Resource{URI: "https://api.example.com/mcp/v1/tenants/centro-de-estudios-superiores", Name: "Servidor MCP de notas", Scopes: []string{"notes:read", "notes:write"}}); err != nil {
		t.Fatal(err)
	}
	// A failed login: an event with an IP and a long type.
	x.browser().post(web.PathLogin, map[string][]string{"email": {testEmail}, "password": {"mala"}})

	// The outbox: one message sent, one waiting for a relay that is down.
	now := time.Now().UTC()
	if err := x.st.DB.EnqueueMail(t.Context(),
		&store.OutboxMessage{ID: "m1", Kind: "verify", Recipient: "jefa@example.com", Subject: "Confirma tu correo", CreatedAt: now.Add(-time.Hour)},
		&store.OutboxMessage{ID: "m2", Kind: "reset", Recipient: testEmail, Subject: "Elige una contraseña nueva", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	claimed, err := x.st.DB.ClaimMail(t.Context(), now, time.Minute, 2)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if err := x.st.DB.MarkMailSent(t.Context(), "m1", claimed[0].Claim, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := x.st.DB.MarkMailRetry(t.Context(), "m2", claimed[1].Claim, now.Add(4*time.Minute),
		"dial failed: dial tcp 192.0.2.25:587: connect: connection refused"); err != nil {
		t.Fatal(err)
	}

	anon := newBrowser(t)
	b := newBrowser(t)
	browserLogin(t, b, x.issuer, "jefa@example.com", web.PathAccount, `form[action="/account/profile"]`)

	type pg struct {
		name, path, waitFor string
		ctx                 context.Context
	}
	pages := []pg{
		{"login", web.PathLogin, `#email`, anon},
		{"register", web.PathRegister, `#email`, anon},
		{"notfound", "/no-existe", `body`, anon},
		{"notfound-signedin", "/account/applications/no-existe", `main`, b},
		{"error", web.PathAuthorize + "?client_id=nadie&response_type=code", `main`, b},
		{"consent", x.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), `button[value="allow"]`, b},
		{"account", web.PathAccount, `form[action="/account/profile"]`, b},
		{"mfa", "/account/mfa", `main`, b},
		{"applications", web.PathApplications, `tr.app`, b},
		{"application", web.PathApplications + "/" + app.ID, `#client_id`, b},
		{"application-rotate", web.PathApplications + "/" + app.ID + "/rotate", `#confirm`, b},
		{"application-delete", web.PathApplications + "/" + app.ID + "/delete", `#confirm`, b},
		{"connections", web.PathConnections, `article.conn`, b},
		{"connection-revoke", web.PathConnections + "/" + webApp + "/revoke", `#confirm`, b},
		{"activate", web.PathActivate, `#user_code`, b},
		{"admin-users", web.PathAdmin, `tr.user`, b},
		{"admin-user", web.PathAdmin + "/users/" + x.user.ID, `a.danger`, b},
		{"admin-disable", web.PathAdmin + "/users/" + x.user.ID + "/disable", `#confirm`, b},
		{"admin-applications", web.PathAdmin + "/applications", `main`, b},
		{"admin-events", web.PathAdmin + "/events", `tr.event`, b},
		{"admin-resources", web.PathAdmin + "/resources", `tr.resource`, b},
		{"admin-mail", web.PathAdmin + "/mail", `tr.mail`, b},
		{"forgot-password", web.PathForgotPassword, `#forgot-submit`, anon},
		{"reset-password-badlink", web.PathResetPassword + "?token=x", `#next`, anon},
		{"verify-email-badlink", web.PathVerifyEmail + "?token=x", `#next`, anon},
		{"logout", web.PathLogout, `main`, b},
	}
	for _, width := range []int64{375, 1280} {
		for _, p := range pages {
			url := p.path
			if !strings.HasPrefix(url, "http") {
				url = x.issuer + url
			}
			if err := chromedp.Do(p.ctx,
				chromedp.EmulateViewport(width, 800),
				chromedp.Navigate(url),
				chromedp.WaitVisible(chromedp.CSS(p.waitFor)),
			); err != nil {
				t.Fatalf("%s at %d px: %v", p.name, width, err)
			}
			problems, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]string](layoutProblems))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range problems {
				t.Errorf("%s at %d px: %s", p.name, width, s)
			}
			screenshot(t, p.ctx, fmt.Sprintf("screens/%d-%s.png", width, p.name))
		}
	}
}
