package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestBrowserTwoStepVerification: in Chromium, a person turns on two-step
// verification from /account (reading the key off the page, as they would
// type it into an app; the code comes from github.com/pquerna/otp), then
// another browser goes through an application's authorization request:
// password, the second step, consent, and the application gets its code.
func TestBrowserTwoStepVerification(t *testing.T) {
	x := newE2E(t)
	ctx := newBrowser(t)

	// 1. Log in and open the second-factor page from /account.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(x.issuer+"/login?continue=/account"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `a[href="/account/mfa"]`),
		follow(chromedp.Click(chromedp.CSS(`a[href="/account/mfa"]`)), `form[action="/account/mfa/setup"] button`),
		follow(chromedp.Click(chromedp.CSS(`form[action="/account/mfa/setup"] button`)), `#totp-secret`),
	); err != nil {
		t.Fatal(err)
	}
	// The QR code is drawn (the CSP lets the data: image load).
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('.qr img').naturalWidth`)); err != nil || w < 100 {
		t.Fatalf("QR code not shown: width %d, %v", w, err)
	}
	screenshot(t, ctx, "mfa-setup.png")
	shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#totp-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.ReplaceAll(strings.TrimSpace(shown), " ", "")

	// 2. Type the app's code: the recovery codes, once.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#code`), totpAt(t, secret, time.Now())),
		follow(chromedp.Click(chromedp.CSS(`form[action="/account/mfa/confirm"] button`)), `#recovery-codes`),
	); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#recovery-codes code').length`)); err != nil || n != 10 {
		t.Fatalf("%d recovery codes shown, %v", n, err)
	}
	screenshot(t, ctx, "mfa-codes.png")

	// 3. Another browser, an application's request: password, then code.
	other := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	if err := chromedp.Do(other,
		chromedp.Navigate(x.conf.AuthCodeURL("st-mfa", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-mfa"))),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), testEmail),
		chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
		follow(chromedp.Click(chromedp.CSS(`form button[type=submit]`)), `form[action="/login/verify"] #code`),
	); err != nil {
		t.Fatal(err)
	}
	if body := text(other, t); !strings.Contains(body, "Verificación en dos pasos") || !strings.Contains(body, "Tienda Ejemplo") {
		t.Fatalf("second step page: %q", body)
	}
	screenshot(t, other, "mfa-verify.png")
	// The step after the one that confirmed the enrolment (accepted: one
	// step of clock drift either way).
	if err := chromedp.Do(other,
		chromedp.SendKeys(chromedp.CSS(`#code`), totpAt(t, secret, time.Now().Add(30*time.Second))),
		follow(chromedp.Click(chromedp.CSS(`form[action="/login/verify"] button`)), `button[value="allow"]`),
		follow(chromedp.Click(chromedp.CSS(`button[value="allow"]`)), `#done`),
	); err != nil {
		t.Fatalf("second step to the application: %v", err)
	}
	got := x.rp.last()
	if got.Get("state") != "st-mfa" || got.Get("code") == "" {
		t.Fatalf("the application got %v", got)
	}
	if _, err := x.conf.Exchange(t.Context(), got.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
}
