package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
)

// The verification page of the device authorization grant (RFC 8628 §3.3):
// the person, signed in, types the code their device shows (or arrives with
// it in the link, verification_uri_complete), sees which application asks
// for what, and allows or denies. The device learns the answer by polling
// the token endpoint (internal/provider, grant_device.go).
//
// RFC 8628 §5.4 (remote phishing): a link with the code is only a pre-filled
// form. Nothing is looked up on a GET, and approving always takes two posts
// from our own pages (CrossOriginProtection): the code, then the decision on
// a page that names the application and shows the code to compare.
//
// RFC 8628 §5.1 (user code brute forcing): every code that does not name a
// pending authorization counts against the address, the session and the
// user; DeviceAttemptLimit of them within DeviceAttemptWindow and further
// codes are refused with 429 until the window ends.

// Paths of the verification page.
const (
	PathActivate       = "/activate"
	PathActivateDecide = "/activate/decide"
)

// Brute-force limits on user-code entry (RFC 8628 §5.1).
const (
	DeviceAttemptLimit  = 10
	DeviceAttemptWindow = 15 * time.Minute
)

// deviceStore is what the verification page needs of the store.
type deviceStore interface {
	GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte, now time.Time) (*store.DeviceCode, error)
	DecideDeviceCode(ctx context.Context, userCodeHash []byte, approve bool, userID string, authTime time.Time, amr []string, now time.Time) error
}

func (w *Web) mountDevice(page func(string, HandlerFunc)) {
	page("GET "+PathActivate, w.activatePage)
	page("POST "+PathActivate, w.activateSubmit)
	page("POST "+PathActivateDecide, w.activateDecide)
}

// activateData is what the activate pages show: Code as typed (entry form)
// or normalised (confirmation), Shown as XXXX-XXXX.
type activateData struct {
	Code  string
	Shown string
}

// activateURL is the page with the code pre-filled.
func activateURL(code string) string {
	if code == "" {
		return PathActivate
	}
	return PathActivate + "?" + url.Values{"user_code": {code}}.Encode()
}

// toLogin sends a browser without a session to log in and come back to the
// entry form with code pre-filled.
func (w *Web) toLogin(rw http.ResponseWriter, r *http.Request, code string) {
	w.redirect(rw, r, PathLogin+"?"+url.Values{"continue": {activateURL(code)}}.Encode())
}

func (w *Web) activateView(r *http.Request, user *store.User, code string) *View {
	return &View{Lang: w.lang(r, ""), Title: "activate.title", User: user, Data: activateData{Code: code}}
}

// activatePage is the entry form. A code in the link (RFC 8628 §3.3.1
// verification_uri_complete) only pre-fills it.
func (w *Web) activatePage(rw http.ResponseWriter, r *http.Request) error {
	code := r.URL.Query().Get("user_code")
	if len(code) > 4*oauth.UserCodeLen {
		code = ""
	}
	if n, ok := oauth.NormalizeUserCode(code); ok {
		code = oauth.FormatUserCode(n)
	}
	sess, user, err := w.session(r)
	if err != nil {
		return err
	}
	if sess == nil {
		w.toLogin(rw, r, code)
		return nil
	}
	w.render(rw, r, http.StatusOK, "activate", w.activateView(r, user, code))
	return nil
}

// deviceKeys are the counters a wrong code counts against.
func deviceKeys(r *http.Request, sess *store.Session) []string {
	return []string{"device:ip:" + httpx.ClientIP(r), "device:session:" + sess.ID, "device:user:" + sess.UserID}
}

// deviceLimited reports whether any counter reached the limit, and when
// its window ends.
func (w *Web) deviceLimited(r *http.Request, sess *store.Session, now time.Time) (time.Duration, error) {
	start := now.Truncate(DeviceAttemptWindow)
	for _, k := range deviceKeys(r, sess) {
		n, err := w.cfg.Store.Count(r.Context(), k, start)
		if err != nil {
			return 0, err
		}
		if n >= DeviceAttemptLimit {
			return start.Add(DeviceAttemptWindow).Sub(now), nil
		}
	}
	return 0, nil
}

// deviceMiss counts a code that named no pending authorization.
func (w *Web) deviceMiss(r *http.Request, sess *store.Session, now time.Time) error {
	start := now.Truncate(DeviceAttemptWindow)
	for _, k := range deviceKeys(r, sess) {
		if _, err := w.cfg.Store.Hit(r.Context(), k, start, start.Add(DeviceAttemptWindow)); err != nil {
			return err
		}
	}
	return nil
}

// activateSubmit looks up the typed code and shows the confirmation page.
func (w *Web) activateSubmit(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	typed := r.PostForm.Get("user_code")
	if len(typed) > 4*oauth.UserCodeLen {
		typed = ""
	}
	sess, user, err := w.session(r)
	if err != nil {
		return err
	}
	if sess == nil {
		w.toLogin(rw, r, typed)
		return nil
	}
	v := w.activateView(r, user, typed)
	now := w.now()
	if wait, err := w.deviceLimited(r, sess, now); err != nil {
		return err
	} else if wait > 0 {
		SetRetryAfter(rw, wait)
		v.Error = translate(v.Lang, "activate.limited")
		w.render(rw, r, http.StatusTooManyRequests, "activate", v)
		return nil
	}
	code, ok := oauth.NormalizeUserCode(typed)
	if !ok {
		// Not a code at all: nothing to look up, so nothing learnt.
		v.Error = translate(v.Lang, "activate.malformed")
		w.render(rw, r, http.StatusBadRequest, "activate", v)
		return nil
	}
	d, err := w.cfg.Store.GetDeviceCodeByUserCode(r.Context(), store.HashToken(code), now)
	if isNotFound(err) {
		if err := w.deviceMiss(r, sess, now); err != nil {
			return err
		}
		v.Error = translate(v.Lang, "activate.wrong")
		w.render(rw, r, http.StatusBadRequest, "activate", v)
		return nil
	}
	if err != nil {
		return err
	}
	client, err := w.cfg.Store.GetClient(r.Context(), d.ClientID)
	if isNotFound(err) || (err == nil && (client.Disabled || !slices.Contains(client.Grants, store.GrantDeviceCode))) {
		return PageErr(http.StatusBadRequest, "error.disabledclient")
	}
	if err != nil {
		return err
	}
	cv := &View{
		Lang: v.Lang, Title: "activate.confirm.title", User: user, ClientName: client.Name,
		Binding:  binding(sess),
		Continue: PathLogin + "?" + url.Values{"continue": {activateURL(oauth.FormatUserCode(code))}}.Encode(),
		Data:     activateData{Code: code, Shown: oauth.FormatUserCode(code)},
	}
	for _, s := range d.Scopes {
		cv.Scopes = append(cv.Scopes, scopeView{Name: s, Text: w.scopeText(cv.Lang, s)})
	}
	if cv.Resources, err = w.namedResources(r.Context(), d.Resources); err != nil {
		return err
	}
	w.render(rw, r, http.StatusOK, "activate_confirm", cv)
	return nil
}

// activateDecide records the person's answer. The form must come from the
// confirmation page shown to this session (binding); a code that names no
// pending authorization counts as a wrong code, so this form is no way
// around the limit.
func (w *Web) activateDecide(rw http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return &PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	f := r.PostForm
	code, ok := oauth.NormalizeUserCode(f.Get("user_code"))
	if !ok {
		return PageErr(http.StatusBadRequest, "error.badrequest")
	}
	sess, user, err := w.session(r)
	if err != nil {
		return err
	}
	if sess == nil {
		w.toLogin(rw, r, oauth.FormatUserCode(code))
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("binding")), []byte(binding(sess))) != 1 {
		return PageErr(http.StatusBadRequest, "error.sessionchanged")
	}
	var approve bool
	switch f.Get("decision") {
	case "allow":
		approve = true
	case "deny":
	default:
		return PageErr(http.StatusBadRequest, "error.badrequest")
	}
	v := w.activateView(r, user, "")
	now := w.now()
	if wait, err := w.deviceLimited(r, sess, now); err != nil {
		return err
	} else if wait > 0 {
		SetRetryAfter(rw, wait)
		v.Error = translate(v.Lang, "activate.limited")
		w.render(rw, r, http.StatusTooManyRequests, "activate", v)
		return nil
	}
	hash := store.HashToken(code)
	gone := func() error {
		if err := w.deviceMiss(r, sess, now); err != nil {
			return err
		}
		v.Error = translate(v.Lang, "activate.gone")
		w.render(rw, r, http.StatusConflict, "activate", v)
		return nil
	}
	d, err := w.cfg.Store.GetDeviceCodeByUserCode(r.Context(), hash, now)
	if isNotFound(err) {
		return gone()
	}
	if err != nil {
		return err
	}
	// One conditional update: of two answers (two tabs, two people) only
	// the first counts.
	err = w.cfg.Store.DecideDeviceCode(r.Context(), hash, approve, user.ID, sess.AuthTime, sess.AMR, now)
	if errors.Is(err, store.ErrNotFound) {
		return gone()
	}
	if err != nil {
		return err
	}
	done := &View{Lang: v.Lang, User: user}
	if approve {
		w.event(r, "device.approved", user.ID, d.ClientID, oauth.FormatScope(d.Scopes))
		done.Title, done.Notice = "activate.done.title", translate(v.Lang, "activate.done")
	} else {
		w.event(r, "device.denied", user.ID, d.ClientID, oauth.FormatScope(d.Scopes))
		done.Title, done.Message = "activate.denied.title", translate(v.Lang, "activate.denied")
	}
	w.render(rw, r, http.StatusOK, "activate_done", done)
	return nil
}

// deviceMessages are the texts of the activate pages: key → {Spanish,
// English}. They join messages at start-up.
var deviceMessages = map[string][2]string{
	"activate.title":         {"Conectar un dispositivo", "Connect a device"},
	"activate.intro":         {"Escribe el código que muestra tu dispositivo (televisor, consola, terminal…).", "Enter the code your device shows (TV, console, terminal…)."},
	"activate.code":          {"Código", "Code"},
	"activate.submit":        {"Continuar", "Continue"},
	"activate.malformed":     {"El código tiene 8 letras y ninguna vocal (las vocales no se usan), por ejemplo BCDF-GHJK. Revísalo y vuelve a escribirlo.", "The code has 8 letters and no vowels (vowels are never used), for example BCDF-GHJK. Check it and type it again."},
	"activate.hint":          {"8 letras, sin vocales: las vocales no se usan. Da igual escribirlas en mayúsculas o minúsculas, con o sin guion.", "8 letters, no vowels: vowels are never used. Upper or lower case, with or without the dash, are all fine."},
	"login.for.device":       {"para conectar un dispositivo a tu cuenta", "to connect a device to your account"},
	"activate.wrong":         {"Ese código no es válido o ya caducó. Revísalo en la pantalla del dispositivo y vuelve a escribirlo.", "That code is not valid or has expired. Check it on the device's screen and type it again."},
	"activate.limited":       {"Demasiados códigos incorrectos. Espera unos minutos y vuelve a intentarlo.", "Too many wrong codes. Wait a few minutes and try again."},
	"activate.gone":          {"Esta autorización ya no está pendiente: caducó o ya se respondió. Vuelve a tu dispositivo y empieza de nuevo.", "This authorization is no longer pending: it expired or was already answered. Go back to your device and start again."},
	"activate.confirm.title": {"Autorizar un dispositivo", "Authorize a device"},
	"activate.wants":         {"quiere acceder a tu cuenta de Multinexo desde un dispositivo para:", "wants to access your Multinexo account from a device to:"},
	"activate.check":         {"Comprueba que tu dispositivo muestra este mismo código:", "Check that your device shows this same code:"},
	"activate.phishing":      {"Si no empezaste tú este inicio de sesión en un dispositivo que tienes delante, deniega: alguien podría estar intentando entrar en tu cuenta.", "If you did not start this sign-in on a device in front of you, deny: someone may be trying to get into your account."},
	"activate.done.title":    {"Dispositivo conectado", "Device connected"},
	"activate.done":          {"Listo. Vuelve a tu dispositivo: continuará solo en unos segundos.", "Done. Go back to your device: it will continue on its own in a few seconds."},
	"activate.denied.title":  {"Acceso denegado", "Access denied"},
	"activate.denied":        {"No diste acceso. Puedes volver a tu dispositivo: mostrará que el acceso fue denegado.", "You did not give access. You can go back to your device: it will show that access was denied."},
}

func init() {
	for k, v := range deviceMessages {
		if _, dup := messages[k]; dup {
			panic("web: message " + k + " defined twice")
		}
		messages[k] = v
	}
}
