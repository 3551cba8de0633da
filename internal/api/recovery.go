package api

import (
	"errors"
	"net/http"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
)

// Mailed links through the API: a new verification link for the caller,
// and password resets for anyone who knows an address.

var resetAttrs = map[string]bool{"email": true}

// sendVerification is POST /v1/users/me/verification: a new link to the
// caller's address. 202: queued (it leaves from the outbox).
func (u *Users) sendVerification(w http.ResponseWriter, r *http.Request, c *caller) error {
	err := u.svc.SendVerification(r.Context(), c.user.ID, httpx.ClientIP(r))
	var te *account.ThrottledError
	switch {
	case errors.Is(err, account.ErrAlreadyVerified):
		return newError(http.StatusConflict, Problem{Code: "already_verified",
			Title:  text{"Correo ya verificado", "Email already verified"},
			Detail: text{"La dirección de esta cuenta ya está verificada: no hace falta otro enlace.", "This account's address is already verified: no other link is needed."}})
	case errors.As(err, &te):
		return tooManyLinks(te, err)
	case err != nil:
		return err
	}
	l := lang(r)
	writeJSON(w, MediaType, http.StatusAccepted, Document{Meta: map[string]any{"detail": text{
		"Te enviamos un enlace nuevo. Ábrelo en las próximas 24 horas para verificar tu correo.",
		"We sent you a new link. Open it within 24 hours to verify your email."}.in(l)}})
	return nil
}

func tooManyLinks(te *account.ThrottledError, cause error) *Error {
	return &Error{Status: http.StatusTooManyRequests, Cause: cause, Header: retryAfter(te.RetryAfter), Problems: []Problem{{Code: "rate_limited",
		Title:  text{"Demasiados enlaces", "Too many links"},
		Detail: text{"Se pidieron demasiados enlaces seguidos. Revisa tu correo (también la carpeta de spam) o espera el tiempo que indica Retry-After.", "Too many links were asked for in a row. Check your mail (the spam folder too) or wait for the time in Retry-After."}}}}
}

// createPasswordReset is POST /v1/password_resets: the same 202 whether
// or not the address has an account (account.RequestPasswordReset does
// the same work either way).
func (u *Users) createPasswordReset(w http.ResponseWriter, r *http.Request, _ *caller) error {
	res, err := readResource(w, r, "password_resets")
	if err != nil {
		return err
	}
	if err := noRelationships(res, "password_resets"); err != nil {
		return err
	}
	attrs, err := stringAttrs(res, resetAttrs)
	if err != nil {
		return err
	}
	email, ok := attrs["email"]
	if !ok || email == "" {
		return newError(http.StatusUnprocessableEntity, Problem{Code: "required", Pointer: "/data/attributes/email",
			Title:  text{"Falta el correo", "Email missing"},
			Detail: text{"Envía la dirección de la cuenta en \"email\".", "Send the account's address in \"email\"."}})
	}
	err = u.svc.RequestPasswordReset(r.Context(), email, httpx.ClientIP(r))
	var te *account.ThrottledError
	switch {
	case errors.As(err, &te):
		return tooManyLinks(te, err)
	case err != nil:
		return err
	}
	writeJSON(w, MediaType, http.StatusAccepted, Document{Meta: map[string]any{"detail": text{
		"Si hay una cuenta con esa dirección, le enviamos un enlace para elegir una contraseña nueva. Vale 30 minutos.",
		"If an account has that address, we sent it a link to choose a new password. It is valid for 30 minutes."}.in(lang(r))}})
	return nil
}
