package console

import (
	"errors"
	"net/http"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

func (w *Console) accountView(r *http.Request, user *store.User) *web.View {
	return &web.View{
		Lang: w.Lang(r, ""), Title: "account.title", User: user,
		Email: user.Email, FirstName: user.FirstName, LastName: user.LastName,
		Data: w.mfaStatus(r, user),
	}
}

func (w *Console) accountPage(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	v := w.accountView(r, user)
	switch r.URL.Query().Get("saved") {
	case "profile":
		v.Notice = web.T(v.Lang, "account.saved")
	case "password":
		v.Notice = web.T(v.Lang, "account.pwchanged")
	case "mfaoff":
		v.Notice = web.T(v.Lang, "mfa.disabled")
	case "mfaon":
		v.Notice = web.T(v.Lang, "mfa.enabled")
	case "emailpending":
		v.Notice = web.T(v.Lang, "account.emailpending")
	case "verification":
		v.Notice = web.T(v.Lang, "account.verificationsent")
	}
	w.Render(rw, r, http.StatusOK, "account", v)
	return nil
}

func (w *Console) profileSubmit(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return &web.PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	f := r.PostForm
	first, last, email := f.Get("first_name"), f.Get("last_name"), f.Get("email")
	upd := account.ProfileUpdate{FirstName: &first, LastName: &last, Email: &email}
	if cur := f.Get("current_password"); cur != "" {
		// Needed only for a new address (account.UpdateProfile).
		upd.CurrentPassword = &cur
	}
	_, pending, err := w.cfg.Accounts.UpdateProfileMail(r.Context(), user.ID, upd)
	if err != nil {
		v := w.accountView(r, user)
		v.FirstName, v.LastName, v.Email = first, last, email
		status, handled := w.AccountErrors(rw, v, err)
		if !handled {
			return err
		}
		w.Render(rw, r, status, "account", v)
		return nil
	}
	if pending != "" {
		w.Redirect(rw, r, web.PathAccount+"?saved=emailpending")
		return nil
	}
	w.Redirect(rw, r, web.PathAccount+"?saved=profile")
	return nil
}

func (w *Console) passwordSubmit(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	if err := r.ParseForm(); err != nil {
		return &web.PageError{Status: http.StatusBadRequest, Msg: "error.badrequest", Cause: err}
	}
	cur, next := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	_, err = w.cfg.Accounts.UpdateProfile(r.Context(), user.ID, account.ProfileUpdate{CurrentPassword: &cur, Password: &next})
	if err != nil {
		v := w.accountView(r, user)
		status, handled := w.AccountErrors(rw, v, err)
		if !handled {
			return err
		}
		w.Render(rw, r, status, "account", v)
		return nil
	}
	// A new secret for this browser after a password change.
	if _, err := w.StartSession(rw, r, user); err != nil {
		return err
	}
	w.Redirect(rw, r, web.PathAccount+"?saved=password")
	return nil
}

// verificationSubmit mails the person a new verification link.
func (w *Console) verificationSubmit(rw http.ResponseWriter, r *http.Request) error {
	_, user, err := w.SignedIn(rw, r)
	if err != nil || user == nil {
		return err
	}
	err = w.cfg.Accounts.SendVerification(r.Context(), user.ID, httpx.ClientIP(r))
	var te *account.ThrottledError
	key, status := "", http.StatusTooManyRequests
	switch {
	case err == nil:
		w.Redirect(rw, r, web.PathAccount+"?saved=verification")
		return nil
	case errors.Is(err, account.ErrAlreadyVerified):
		w.Redirect(rw, r, web.PathAccount)
		return nil
	case errors.As(err, &te):
		web.SetRetryAfter(rw, te.RetryAfter)
		key = "forgot.throttled"
	case errors.Is(err, account.ErrMailUnavailable):
		key, status = "account.nomail", http.StatusServiceUnavailable
	default:
		return err
	}
	v := w.accountView(r, user)
	v.Error = web.T(v.Lang, key)
	w.Render(rw, r, status, "account", v)
	return nil
}
