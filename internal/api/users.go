package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/httpx"
	"github.com/multinexo/auth/internal/oauth"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// UsersConfig configures the users resource. Zero values take the defaults.
type UsersConfig struct {
	Now func() time.Time
	Log *slog.Logger
	// RegisterLimit: registrations per client address per RegisterWindow
	// (default 10 per hour; negative: no limit). Successful registrations
	// and attempts on a taken email count; refused bodies do not.
	RegisterLimit  int
	RegisterWindow time.Duration
}

// userStore is what the users resource needs from the store.
type userStore interface {
	GetUser(ctx context.Context, id string) (*store.User, error)
	Hit(ctx context.Context, key string, windowStart time.Time, expires time.Time) (int, error)
	Count(ctx context.Context, key string, windowStart time.Time) (int, error)
}

// Users serves the JSON:API users resource.
type Users struct {
	svc   *account.Service
	st    userStore
	guard *guard
	cfg   UsersConfig
	log   *slog.Logger
}

// NewUsers builds the users resource.
func NewUsers(svc *account.Service, st store.Store, bearer oauth.BearerVerifier, cfg UsersConfig) *Users {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RegisterLimit == 0 {
		cfg.RegisterLimit = 10
	}
	if cfg.RegisterWindow <= 0 {
		cfg.RegisterWindow = time.Hour
	}
	return &Users{svc: svc, st: st, guard: &guard{bearer: bearer, st: st, log: cfg.Log}, cfg: cfg, log: cfg.Log}
}

// Mount registers the routes.
func (u *Users) Mount(rs *httpx.Routes) { u.guard.mount(rs, u.routes()) }

// routes lists the routes with what each needs (see need).
func (u *Users) routes() []route {
	return []route{
		{"POST /v1/users", needNothing, false, u.create},
		{"GET /v1/users/me", needUser, false, u.getMe},
		{"PATCH /v1/users/me", needAccount, false, u.patchMe},
		{"DELETE /v1/users/me", needAccount, false, u.deleteMe},
		{"GET /v1/users/{id}", needUser, false, u.getByID},
		{"POST /v1/users/me/verification", needUser, false, u.sendVerification},
		{"POST /v1/password_resets", needNothing, false, u.createPasswordReset},
		// Seed 004 (django-oauth-toolkit style): the caller as plain JSON.
		{"GET /api/v1/users/me/{$}", needUser, true, u.getMePlain},
		{"GET /api/v1/users/me", needUser, true, u.getMePlain},
	}
}

func status(u *store.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

// userAttributes is the Multinexo users resource as a token with scopes
// sees it: profile: first_name, last_name, avatar_url, activated, status,
// created_at, updated_at; email: email, email_verified; the scope account
// sees both; openid alone, nothing but the id. Never the password hash;
// admin is not shown either. A part the token may not see is a nil
// embedded pointer, whose fields encoding/json leaves out.
type userAttributes struct {
	*profileAttributes
	*emailAttributes
}

type profileAttributes struct {
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	AvatarURL *string   `json:"avatar_url"` // null when there is none
	Activated bool      `json:"activated"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type emailAttributes struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// attributesFor is what c sees of u; c nil (registration, no token):
// everything.
func attributesFor(u *store.User, c *caller) userAttributes {
	var a userAttributes
	if c == nil || c.sees(oauth.ScopeProfile) {
		var avatar *string
		if u.AvatarURL != "" {
			avatar = &u.AvatarURL
		}
		a.profileAttributes = &profileAttributes{FirstName: u.FirstName, LastName: u.LastName, AvatarURL: avatar,
			Activated: u.Activated, Status: status(u), CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
	}
	if c == nil || c.sees(oauth.ScopeEmail) {
		a.emailAttributes = &emailAttributes{Email: u.Email, EmailVerified: u.EmailVerified}
	}
	return a
}

func userPath(u *store.User) string { return "/v1/users/" + u.ID }

func userResource(u *store.User, c *caller) Resource {
	return Resource{Type: "users", ID: u.ID, Attributes: attributesFor(u, c), Links: map[string]string{"self": userPath(u)}}
}

func writeUser(w http.ResponseWriter, status int, u *store.User, c *caller) {
	writeJSON(w, MediaType, status, Document{Data: userResource(u, c), Links: map[string]any{"self": userPath(u)}})
}

// Attribute names of the users resource.
var (
	createAttrs = map[string]bool{"email": true, "password": true, "first_name": true, "last_name": true}
	updateAttrs = map[string]bool{"email": true, "password": true, "current_password": true, "first_name": true, "last_name": true}
	// Owned by the server: refused, never applied.
	readOnlyAttrs = map[string]bool{"id": true, "admin": true, "activated": true, "status": true, "avatar_url": true, "created_at": true, "updated_at": true}
)

// stringAttrs checks the attribute names against allowed and returns the
// values, which must all be strings. Problems come sorted by name so the
// answer is stable.
func stringAttrs(res *inResource, allowed map[string]bool) (map[string]string, error) {
	out := map[string]string{}
	names, probs := checkAttrNames(res, allowed, readOnlyAttrs)
	for _, k := range names {
		var s string
		if isNull(res.Attributes[k]) || json.Unmarshal(res.Attributes[k], &s) != nil {
			probs = append(probs, wrongType(k, text{"un texto entre comillas", "a quoted string"}))
			continue
		}
		out[k] = s
	}
	if len(probs) > 0 {
		return nil, newError(http.StatusUnprocessableEntity, probs...)
	}
	return out, nil
}

// checkAttrNames sorts the attributes of res: it returns the allowed names,
// sorted, and a problem for each read-only or unknown one — never applied.
func checkAttrNames(res *inResource, allowed, readOnly map[string]bool) (names []string, probs []Problem) {
	all := make([]string, 0, len(res.Attributes))
	for k := range res.Attributes {
		all = append(all, k)
	}
	sort.Strings(all)
	for _, k := range all {
		ptr := "/data/attributes/" + k
		switch {
		case readOnly[k]:
			probs = append(probs, Problem{Code: "read_only", Pointer: ptr,
				Title:  text{"Atributo de solo lectura", "Read-only attribute"},
				Detail: text{"El atributo \"" + k + "\" lo asigna el servidor y no se puede enviar. Quítalo de la solicitud.", "The attribute \"" + k + "\" is set by the server and cannot be sent. Remove it from the request."}})
		case !allowed[k]:
			probs = append(probs, Problem{Code: "unknown_attribute", Pointer: ptr,
				Title:  text{"Atributo desconocido", "Unknown attribute"},
				Detail: text{"El atributo \"" + k + "\" no existe en este recurso. Quítalo o revisa cómo está escrito.", "The attribute \"" + k + "\" does not exist on this resource. Remove it or check its spelling."}})
		default:
			names = append(names, k)
		}
	}
	return names, probs
}

// wrongType is the problem of attribute k holding another JSON type than
// want ("un texto entre comillas", "a quoted string").
func wrongType(k string, want text) Problem {
	return Problem{Code: "invalid_type", Pointer: "/data/attributes/" + k,
		Title:  text{"Tipo de valor incorrecto", "Wrong value type"},
		Detail: text{"El atributo \"" + k + "\" debe ser " + want.es + ".", "The attribute \"" + k + "\" must be " + want.en + "."}}
}

// noRelationships refuses relationships in a request about a resource of
// type typ, none of which can be set by the caller.
func noRelationships(res *inResource, typ string) error {
	if len(res.Relationships) == 0 || isNull(res.Relationships) || string(res.Relationships) == "{}" {
		return nil
	}
	return newError(http.StatusUnprocessableEntity, Problem{Code: "unknown_relationship", Pointer: "/data/relationships",
		Title:  text{"Relación no admitida", "Unsupported relationship"},
		Detail: text{"Las relaciones del recurso " + typ + " las asigna el servidor y no se pueden modificar. Quita \"relationships\".", "The relationships of the " + typ + " resource are set by the server and cannot be changed. Remove \"relationships\"."}})
}

// accountError turns an error of the account service into the API's answer.
func accountError(err error) error {
	var ve *account.ValidationError
	var te *account.ThrottledError
	switch {
	case errors.As(err, &ve):
		var all []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			all = j.Unwrap()
		} else {
			all = []error{err}
		}
		probs := make([]Problem, 0, len(all))
		for _, e := range all {
			if errors.As(e, &ve) {
				probs = append(probs, Problem{Code: ve.Code, Pointer: "/data/attributes/" + ve.Field,
					Title:  text{"Valor no válido", "Invalid value"},
					Detail: text{ve.Detail, ve.Localized("en")}})
			}
		}
		return &Error{Status: http.StatusUnprocessableEntity, Problems: probs, Cause: err}
	case errors.Is(err, account.ErrEmailTaken):
		return &Error{Status: http.StatusConflict, Cause: err, Problems: []Problem{{Code: "email_taken", Pointer: "/data/attributes/email",
			Title:  text{"Correo ya registrado", "Email already registered"},
			Detail: text{"Ya existe una cuenta con esta dirección de correo electrónico. Inicia sesión o usa otra dirección.", "An account with this email address already exists. Log in or use another address."}}}}
	case errors.Is(err, account.ErrInvalidCredentials):
		return &Error{Status: http.StatusUnprocessableEntity, Cause: err, Problems: []Problem{{Code: "incorrect", Pointer: "/data/attributes/current_password",
			Title:  text{"Contraseña actual incorrecta", "Wrong current password"},
			Detail: text{"La contraseña actual no es correcta. Escríbela de nuevo.", "The current password is not correct. Type it again."}}}}
	case errors.As(err, &te):
		return &Error{Status: http.StatusTooManyRequests, Cause: err, Header: retryAfter(te.RetryAfter), Problems: []Problem{{Code: "throttled",
			Title:  text{"Demasiados intentos", "Too many attempts"},
			Detail: text{"Hubo demasiados intentos fallidos. Espera el tiempo que indica Retry-After y vuelve a intentarlo.", "There were too many failed attempts. Wait for the time in Retry-After and try again."}}}}
	case errors.Is(err, account.ErrBusy):
		return errBusy(err)
	}
	return err
}

func errBusy(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Cause: cause, Header: retryAfter(time.Second), Problems: []Problem{{Code: "busy",
		Title:  text{"Servidor ocupado", "Server busy"},
		Detail: text{"El servidor está atendiendo demasiadas solicitudes. Vuelve a intentarlo en unos segundos.", "The server is handling too many requests. Try again in a few seconds."}}}}
}

// registerWindow is the fixed window of the registration limit.
func (u *Users) registerWindow() (now, start, end time.Time) {
	now = u.cfg.Now()
	start = now.Truncate(u.cfg.RegisterWindow)
	return now, start, start.Add(u.cfg.RegisterWindow)
}

func registerKey(ip string) string { return "register:ip:" + ip }

func (u *Users) create(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if err := checkMediaType(r); err != nil {
		return err
	}
	ip := httpx.ClientIP(r)
	limited := u.cfg.RegisterLimit > 0
	if limited {
		now, start, end := u.registerWindow()
		n, err := u.st.Count(r.Context(), registerKey(ip), start)
		if err != nil {
			return err
		}
		if n >= u.cfg.RegisterLimit {
			return &Error{Status: http.StatusTooManyRequests, Header: retryAfter(end.Sub(now)), Problems: []Problem{{Code: "rate_limited",
				Title:  text{"Demasiados registros", "Too many registrations"},
				Detail: text{"Se crearon demasiadas cuentas desde esta dirección. Espera el tiempo que indica Retry-After y vuelve a intentarlo.", "Too many accounts were created from this address. Wait for the time in Retry-After and try again."}}}}
		}
	}
	res, err := readResource(w, r, "users")
	if err != nil {
		return err
	}
	if res.HasID {
		// JSON:API: "A server MUST return 403 Forbidden in response to an
		// unsupported request to create a resource with a client-generated ID."
		return newError(http.StatusForbidden, Problem{Code: "client_id_not_allowed", Pointer: "/data/id",
			Title:  text{"Identificador no permitido", "Identifier not allowed"},
			Detail: text{"El servidor asigna el identificador de cada usuario. Quita \"id\" de \"data\".", "The server assigns every user's identifier. Remove \"id\" from \"data\"."}})
	}
	if err := noRelationships(res, "users"); err != nil {
		return err
	}
	attrs, err := stringAttrs(res, createAttrs)
	if err != nil {
		return err
	}
	user, err := u.svc.Register(r.Context(), account.RegisterInput{
		Email: attrs["email"], Password: attrs["password"],
		FirstName: attrs["first_name"], LastName: attrs["last_name"], Lang: lang(r),
	})
	if limited && (err == nil || errors.Is(err, account.ErrEmailTaken)) {
		_, start, end := u.registerWindow()
		if _, herr := u.st.Hit(r.Context(), registerKey(ip), start, end); herr != nil {
			httpx.LogError(u.log, r, http.StatusInternalServerError, herr)
		}
	}
	if err != nil {
		return accountError(err)
	}
	w.Header().Set("Location", userPath(user))
	writeUser(w, http.StatusCreated, user, nil)
	return nil
}

func bearerError(be *oauth.BearerError, cause error) *Error {
	st := be.Status
	if st == 0 {
		st = http.StatusUnauthorized
	}
	p := Problem{Code: be.Code, Header: "Authorization"}
	switch be.Code {
	case "":
		p.Code = "unauthorized"
		p.Title = text{"Falta el token de acceso", "Access token missing"}
		p.Detail = text{"Envía un token de acceso en la cabecera Authorization: Bearer <token>.", "Send an access token in the header Authorization: Bearer <token>."}
	case "invalid_token":
		if errors.Is(cause, token.ErrExpired) {
			p.Title = text{"Token de acceso caducado", "Access token expired"}
			p.Detail = text{"El token de acceso caducó. Obtén uno nuevo con tu refresh token (o iniciando sesión) y reintenta.", "The access token has expired. Get a new one with your refresh token (or by logging in) and retry."}
			break
		}
		p.Title = text{"Token de acceso no válido", "Invalid access token"}
		p.Detail = text{"El token de acceso no es válido, caducó o fue revocado. Obtén uno nuevo (con tu refresh token o iniciando sesión) y reintenta.", "The access token is invalid, expired or revoked. Get a new one (with your refresh token or by logging in) and retry."}
	case "insufficient_scope":
		p.Title = text{"Permiso insuficiente", "Insufficient scope"}
		p.Detail = text{"El token no incluye el permiso (scope) \"" + be.Scope + "\". Pide un token que lo incluya.", "The token lacks the scope \"" + be.Scope + "\". Request a token that includes it."}
	default:
		p.Title = text{"Solicitud de autenticación no válida", "Invalid authentication request"}
		p.Detail = text{"Envía el token una sola vez, en la cabecera Authorization: Bearer <token>.", "Send the token once, in the header Authorization: Bearer <token>."}
	}
	return &Error{Status: st, Bearer: be, Cause: cause, Problems: []Problem{p}}
}

func (u *Users) getMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeUser(w, http.StatusOK, c.user, c)
	return nil
}

// getByID serves the Location of a created user: only the caller's own
// resource is visible; any other id is 404, so ids cannot be probed.
func (u *Users) getByID(w http.ResponseWriter, r *http.Request, c *caller) error {
	user := c.user
	if r.PathValue("id") != user.ID {
		return newError(http.StatusNotFound, Problem{Code: "not_found",
			Title:  text{"Usuario no encontrado", "User not found"},
			Detail: text{"No existe un usuario con ese identificador que puedas ver. Usa /v1/users/me para tu propia cuenta.", "There is no user with that identifier that you can see. Use /v1/users/me for your own account."}})
	}
	writeUser(w, http.StatusOK, user, c)
	return nil
}

func (u *Users) patchMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	user := c.user
	res, err := readResource(w, r, "users")
	if err != nil {
		return err
	}
	if res.HasID && *res.ID != user.ID {
		// JSON:API: "A server MUST return 409 Conflict when processing a
		// PATCH request in which the resource object's type and id do not
		// match the server's endpoint."
		return newError(http.StatusConflict, Problem{Code: "id_mismatch", Pointer: "/data/id",
			Title:  text{"Identificador distinto", "Identifier mismatch"},
			Detail: text{"\"id\" no corresponde a tu cuenta. Quítalo o usa el de tu cuenta.", "\"id\" is not your account's. Remove it or use your account's id."}})
	}
	if err := noRelationships(res, "users"); err != nil {
		return err
	}
	attrs, err := stringAttrs(res, updateAttrs)
	if err != nil {
		return err
	}
	var upd account.ProfileUpdate
	ptr := func(k string) *string {
		if v, ok := attrs[k]; ok {
			return &v
		}
		return nil
	}
	upd.Email, upd.FirstName, upd.LastName = ptr("email"), ptr("first_name"), ptr("last_name")
	upd.Password, upd.CurrentPassword = ptr("password"), ptr("current_password")
	if upd.CurrentPassword != nil && upd.Password == nil && upd.Email == nil {
		return newError(http.StatusUnprocessableEntity, Problem{Code: "required", Pointer: "/data/attributes/password",
			Title:  text{"Valor no válido", "Invalid value"},
			Detail: text{"Enviaste current_password sin una contraseña ni un email nuevos: agrega \"password\" o \"email\", o quita \"current_password\".", "current_password was sent without a new password or email: add \"password\" or \"email\", or remove \"current_password\"."}})
	}
	nu, pending, err := u.svc.UpdateProfileMail(r.Context(), user.ID, upd)
	if err != nil {
		return accountError(err)
	}
	if pending == "" {
		writeUser(w, http.StatusOK, nu, c)
		return nil
	}
	// The address changes when the link mailed to it is followed.
	writeJSON(w, MediaType, http.StatusOK, Document{Data: userResource(nu, c), Links: map[string]any{"self": userPath(nu)},
		Meta: map[string]any{"email_change_pending": pending, "detail": text{
			"Te enviamos un enlace a " + pending + ". Tu correo cambiará cuando lo abras.",
			"We sent a link to " + pending + ". Your email changes when you open it."}.in(lang(r))}})
	return nil
}

func (u *Users) deleteMe(w http.ResponseWriter, r *http.Request, c *caller) error {
	if err := u.svc.Delete(r.Context(), c.user.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getMePlain is the seed-004 view of the caller (Django REST framework
// style, plain JSON): id always; with email, username and email (and
// email_verified); with profile, the rest — as userAttributes.
func (u *Users) getMePlain(w http.ResponseWriter, r *http.Request, c *caller) error {
	body := plainUser{ID: c.user.ID, userAttributes: attributesFor(c.user, c)}
	if body.emailAttributes != nil {
		body.Username = &body.Email
	}
	writeJSON(w, "application/json", http.StatusOK, body)
	return nil
}

// plainUser is the seed-004 view: the id always, username (the email) with
// the email, and the attributes the token may see.
type plainUser struct {
	ID       string  `json:"id"`
	Username *string `json:"username,omitempty"`
	userAttributes
}
