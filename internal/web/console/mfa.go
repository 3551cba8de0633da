package console

import (
	"errors"
	"html/template"
	"net/http"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// mfaStatusData is the second-factor section of /account.
type mfaStatusData struct {
	Available, Enabled bool
	CodesLeft          int
}

func (w *Console) mfaStatus(r *http.Request, u *store.User) *mfaStatusData {
	d := &mfaStatusData{Available: w.cfg.Accounts.MFAAvailable(), Enabled: u.HasTOTP()}
	if d.Enabled {
		n, err := w.cfg.Accounts.RecoveryCodesLeft(r.Context(), u.ID)
		if err != nil {
			httpx.LogError(w.log, r, http.StatusInternalServerError, err)
		}
		d.CodesLeft = n
	}
	return d
}

// mfaData is the /account/mfa page: Mode "off" (offer to start), "setup"
// (the new secret and the code form) or "on" (recovery codes, disable).
type mfaData struct {
	Mode      string
	QR        template.URL // data:image/png;base64,... made here
	URI       template.URL // otpauth://totp/... made here
	Secret    string       // base32 in groups of four
	CodesLeft int
}

// mfaCodesData is the page that shows recovery codes, once.
type mfaCodesData struct {
	Codes []string
	Back  string
}

func setupData(e *account.TOTPEnrolment) *mfaData {
	// Both URLs are built by the account service from a random secret
	// and the account's email (query-escaped), never from the request.
	return &mfaData{Mode: "setup", QR: template.URL(e.QRDataURL()), URI: template.URL(e.URI), Secret: e.SecretGroups()}
}

func (w *Console) mfaView(r *http.Request, u *store.User, d *mfaData) *web.View {
	return &web.View{Lang: w.Lang(r, ""), Title: "mfa.title", User: u, Data: d}
}

// mfaUser is signedIn for the second-factor pages: nil when it answered
// (a redirect to the login), or when second factors are unavailable.
func (w *Console) mfaUser(rw http.ResponseWriter, r *http.Request) (*store.User, error) {
	if !w.cfg.Accounts.MFAAvailable() {
		return nil, web.NotFound()
	}
	_, user, err := w.SignedIn(rw, r)
	return user, err
}

func (w *Console) mfaPage(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	d := &mfaData{Mode: "off"}
	if user.HasTOTP() {
		d.Mode = "on"
		if d.CodesLeft, err = w.cfg.Accounts.RecoveryCodesLeft(r.Context(), user.ID); err != nil {
			return err
		}
	}
	w.Render(rw, r, http.StatusOK, "mfa", w.mfaView(r, user, d))
	return nil
}

func (w *Console) mfaSetup(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	e, err := w.cfg.Accounts.BeginTOTP(r.Context(), user.ID)
	if errors.Is(err, account.ErrMFAEnabled) {
		w.Redirect(rw, r, web.PathMFA)
		return nil
	}
	if err != nil {
		return err
	}
	w.Render(rw, r, http.StatusOK, "mfa", w.mfaView(r, user, setupData(e)))
	return nil
}

func (w *Console) mfaConfirm(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	code := r.PostForm.Get("code")
	if len(code) > web.MaxCode {
		code = ""
	}
	codes, err := w.cfg.Accounts.ConfirmTOTP(r.Context(), user.ID, code)
	switch {
	case err == nil:
		// Turning the second factor on ended every session; this browser
		// gets a new one.
		if _, err := w.StartSession(rw, r, user); err != nil {
			return err
		}
		return w.showCodes(rw, r, user, codes, web.PathAccount+"?saved=mfaon")
	case errors.Is(err, account.ErrInvalidCode):
		e, perr := w.cfg.Accounts.PendingTOTP(r.Context(), user.ID)
		if perr != nil {
			return perr
		}
		v := w.mfaView(r, user, setupData(e))
		v.Error = web.T(v.Lang, "mfa.setup.invalid")
		w.Render(rw, r, http.StatusUnprocessableEntity, "mfa", v)
		return nil
	case errors.Is(err, account.ErrNoEnrolment):
		v := w.mfaView(r, user, &mfaData{Mode: "off"})
		v.Error = web.T(v.Lang, "mfa.setup.stale")
		w.Render(rw, r, http.StatusConflict, "mfa", v)
		return nil
	case errors.Is(err, account.ErrMFAEnabled):
		w.Redirect(rw, r, web.PathMFA)
		return nil
	}
	return err
}

func (w *Console) showCodes(rw http.ResponseWriter, r *http.Request, user *store.User, codes []string, back string) error {
	// Shown in this response only: no-store, like every page.
	w.Render(rw, r, http.StatusOK, "mfa_codes", &web.View{
		Lang: w.Lang(r, ""), Title: "mfa.codes.title", User: user, Data: &mfaCodesData{Codes: codes, Back: back},
	})
	return nil
}

// mfaError shows a refusal on the "on" page; false for errors that are not
// the person's to fix.
func (w *Console) mfaError(rw http.ResponseWriter, r *http.Request, user *store.User, err error) bool {
	v := w.mfaView(r, user, &mfaData{Mode: "on"})
	if n, cerr := w.cfg.Accounts.RecoveryCodesLeft(r.Context(), user.ID); cerr == nil {
		v.Data.(*mfaData).CodesLeft = n
	}
	var te *account.ThrottledError
	status := http.StatusBadRequest
	switch {
	case errors.Is(err, account.ErrInvalidCode):
		v.Error = web.T(v.Lang, "mfa.invalid")
	case errors.Is(err, account.ErrInvalidCredentials):
		v.Error = web.T(v.Lang, "account.wrongcurrent")
	case errors.As(err, &te):
		web.SetRetryAfter(rw, te.RetryAfter)
		status = http.StatusTooManyRequests
		v.Error = web.T(v.Lang, "login.throttled")
	case errors.Is(err, account.ErrBusy):
		web.SetRetryAfter(rw, time.Second)
		status = http.StatusServiceUnavailable
		v.Error = web.T(v.Lang, "login.busy")
	default:
		return false
	}
	w.Render(rw, r, status, "mfa", v)
	return true
}

func (w *Console) mfaDisable(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	code := r.PostForm.Get("code")
	if len(code) > web.MaxCode {
		code = ""
	}
	err = w.cfg.Accounts.DisableTOTP(r.Context(), user.ID, r.PostForm.Get("password"), code, httpx.ClientIP(r))
	switch {
	case err == nil:
		if _, err := w.StartSession(rw, r, user); err != nil {
			return err
		}
		w.Redirect(rw, r, web.PathAccount+"?saved=mfaoff")
		return nil
	case errors.Is(err, account.ErrMFADisabled):
		w.Redirect(rw, r, web.PathMFA)
		return nil
	case w.mfaError(rw, r, user, err):
		return nil
	}
	return err
}

func (w *Console) mfaRecovery(rw http.ResponseWriter, r *http.Request) error {
	user, err := w.mfaUser(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return badForm(err)
	}
	code := r.PostForm.Get("code")
	if len(code) > web.MaxCode {
		code = ""
	}
	codes, err := w.cfg.Accounts.RegenerateRecoveryCodes(r.Context(), user.ID, code, httpx.ClientIP(r))
	switch {
	case err == nil:
		return w.showCodes(rw, r, user, codes, web.PathMFA)
	case errors.Is(err, account.ErrMFADisabled):
		w.Redirect(rw, r, web.PathMFA)
		return nil
	case w.mfaError(rw, r, user, err):
		return nil
	}
	return err
}
