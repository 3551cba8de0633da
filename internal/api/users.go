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
	svc    *account.Service
	st     userStore
	bearer oauth.BearerVerifier
	cfg    UsersConfig
	log    *slog.Logger
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
	return &Users{svc: svc, st: st, bearer: bearer, cfg: cfg, log: cfg.Log}
}

// Mount registers the routes.
func (u *Users) Mount(mux *http.ServeMux) {
	mux.Handle("POST /v1/users", handle(u.log, false, u.create))
	mux.Handle("GET /v1/users/me", handle(u.log, false, u.getMe))
	mux.Handle("PATCH /v1/users/me", handle(u.log, false, u.patchMe))
	mux.Handle("DELETE /v1/users/me", handle(u.log, false, u.deleteMe))
	mux.Handle("GET /v1/users/{id}", handle(u.log, false, u.getByID))
	// Seed 004 (django-oauth-toolkit style): the caller as plain JSON.
	mux.Handle("GET /api/v1/users/me/{$}", handle(u.log, true, u.getMePlain))
	mux.Handle("GET /api/v1/users/me", handle(u.log, true, u.getMePlain))
}

// userAttributes is the Multinexo users resource as we show it. Never the
// password hash; admin is not shown either.
type userAttributes struct {
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Email     string    `json:"email"`
	Activated bool      `json:"activated"`
	Status    string    `json:"status"`
	AvatarURL *string   `json:"avatar_url"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func status(u *store.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "active"
}

func attributes(u *store.User) userAttributes {
	a := userAttributes{
		FirstName: u.FirstName, LastName: u.LastName, Email: u.Email,
		Activated: u.Activated, Status: status(u),
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
	if u.AvatarURL != "" {
		a.AvatarURL = &u.AvatarURL
	}
	return a
}

func userPath(u *store.User) string { return "/v1/users/" + u.ID }

func userResource(u *store.User) Resource {
	return Resource{Type: "users", ID: u.ID, Attributes: attributes(u), Links: map[string]string{"self": userPath(u)}}
}

func writeUser(w http.ResponseWriter, status int, u *store.User) {
	writeJSON(w, MediaType, status, Document{Data: userResource(u), Links: map[string]any{"self": userPath(u)}})
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
				Detail: text{"El atributo \"" + k + "\" lo asigna el servidor y no se puede enviar. Quítelo de la solicitud.", "The attribute \"" + k + "\" is set by the server and cannot be sent. Remove it from the request."}})
		case !allowed[k]:
			probs = append(probs, Problem{Code: "unknown_attribute", Pointer: ptr,
				Title:  text{"Atributo desconocido", "Unknown attribute"},
				Detail: text{"El atributo \"" + k + "\" no existe en este recurso. Quítelo o revise cómo está escrito.", "The attribute \"" + k + "\" does not exist on this resource. Remove it or check its spelling."}})
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
		Detail: text{"Las relaciones del recurso " + typ + " las asigna el servidor y no se pueden modificar. Quite \"relationships\".", "The relationships of the " + typ + " resource are set by the server and cannot be changed. Remove \"relationships\"."}})
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
			Detail: text{"Ya existe una cuenta con esta dirección de correo electrónico. Inicie sesión o use otra dirección.", "An account with this email address already exists. Log in or use another address."}}}}
	case errors.Is(err, account.ErrInvalidCredentials):
		return &Error{Status: http.StatusUnprocessableEntity, Cause: err, Problems: []Problem{{Code: "incorrect", Pointer: "/data/attributes/current_password",
			Title:  text{"Contraseña actual incorrecta", "Wrong current password"},
			Detail: text{"La contraseña actual no es correcta. Escríbala de nuevo.", "The current password is not correct. Type it again."}}}}
	case errors.As(err, &te):
		return &Error{Status: http.StatusTooManyRequests, Cause: err, Header: retryAfter(te.RetryAfter), Problems: []Problem{{Code: "throttled",
			Title:  text{"Demasiados intentos", "Too many attempts"},
			Detail: text{"Hubo demasiados intentos fallidos. Espere el tiempo que indica Retry-After y vuelva a intentarlo.", "There were too many failed attempts. Wait for the time in Retry-After and try again."}}}}
	case errors.Is(err, account.ErrBusy):
		return errBusy(err)
	}
	return err
}

func errBusy(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Cause: cause, Header: retryAfter(time.Second), Problems: []Problem{{Code: "busy",
		Title:  text{"Servidor ocupado", "Server busy"},
		Detail: text{"El servidor está atendiendo demasiadas solicitudes. Vuelva a intentarlo en unos segundos.", "The server is handling too many requests. Try again in a few seconds."}}}}
}

// registerWindow is the fixed window of the registration limit.
func (u *Users) registerWindow() (now, start, end time.Time) {
	now = u.cfg.Now()
	start = now.Truncate(u.cfg.RegisterWindow)
	return now, start, start.Add(u.cfg.RegisterWindow)
}

func registerKey(ip string) string { return "register:ip:" + ip }

func (u *Users) create(w http.ResponseWriter, r *http.Request) error {
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
				Detail: text{"Se crearon demasiadas cuentas desde esta dirección. Espere el tiempo que indica Retry-After y vuelva a intentarlo.", "Too many accounts were created from this address. Wait for the time in Retry-After and try again."}}}}
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
			Detail: text{"El servidor asigna el identificador de cada usuario. Quite \"id\" de \"data\".", "The server assigns every user's identifier. Remove \"id\" from \"data\"."}})
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
		FirstName: attrs["first_name"], LastName: attrs["last_name"],
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
	httpx.NoStore(w)
	w.Header().Set("Location", userPath(user))
	writeUser(w, http.StatusCreated, user)
	return nil
}

// caller authenticates the bearer token and loads its user.
func (u *Users) caller(r *http.Request) (*store.User, error) {
	return authenticate(r, u.bearer, u.st)
}

// userGetter is how authenticate loads the caller.
type userGetter interface {
	GetUser(ctx context.Context, id string) (*store.User, error)
}

// authenticate is the bearer check of every resource about a person: a
// valid access token of a user (RFC 6750 errors with their challenge
// otherwise), issued by a user's login — a client-credentials token is 403 —
// whose account still exists and is enabled.
func authenticate(r *http.Request, bearer oauth.BearerVerifier, st userGetter) (*store.User, error) {
	acc, err := bearer.VerifyBearer(r)
	if err != nil {
		var be *oauth.BearerError
		if errors.As(err, &be) {
			return nil, bearerError(be, err)
		}
		return nil, err
	}
	if acc.UserID == "" {
		return nil, newError(http.StatusForbidden, Problem{Code: "user_token_required",
			Title:  text{"Se necesita un token de usuario", "A user token is needed"},
			Detail: text{"Este token representa a una aplicación, no a una persona. Use un token obtenido con el inicio de sesión del usuario (password, authorization_code o device_code).", "This token represents an application, not a person. Use a token obtained by the user's login (password, authorization_code or device_code)."},
			Header: "Authorization"})
	}
	user, err := st.GetUser(r.Context(), acc.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && user.Disabled) {
		return nil, bearerError(&oauth.BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "the account no longer exists or is disabled"}, err)
	}
	if err != nil {
		return nil, err
	}
	return user, nil
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
		p.Detail = text{"Envíe un token de acceso en la cabecera Authorization: Bearer <token>.", "Send an access token in the header Authorization: Bearer <token>."}
	case "invalid_token":
		p.Title = text{"Token de acceso no válido", "Invalid access token"}
		p.Detail = text{"El token de acceso no es válido, caducó o fue revocado. Obtenga uno nuevo (con su refresh token o iniciando sesión) y reintente.", "The access token is invalid, expired or revoked. Get a new one (with your refresh token or by logging in) and retry."}
	case "insufficient_scope":
		p.Title = text{"Permiso insuficiente", "Insufficient scope"}
		p.Detail = text{"El token no incluye el permiso (scope) \"" + be.Scope + "\". Solicite un token que lo incluya.", "The token lacks the scope \"" + be.Scope + "\". Request a token that includes it."}
	default:
		p.Title = text{"Solicitud de autenticación no válida", "Invalid authentication request"}
		p.Detail = text{"Envíe el token una sola vez, en la cabecera Authorization: Bearer <token>.", "Send the token once, in the header Authorization: Bearer <token>."}
	}
	return &Error{Status: st, Bearer: be, Cause: cause, Problems: []Problem{p}}
}

func (u *Users) getMe(w http.ResponseWriter, r *http.Request) error {
	user, err := u.caller(r)
	if err != nil {
		return err
	}
	httpx.NoStore(w)
	writeUser(w, http.StatusOK, user)
	return nil
}

// getByID serves the Location of a created user: only the caller's own
// resource is visible; any other id is 404, so ids cannot be probed.
func (u *Users) getByID(w http.ResponseWriter, r *http.Request) error {
	user, err := u.caller(r)
	if err != nil {
		return err
	}
	if r.PathValue("id") != user.ID {
		return newError(http.StatusNotFound, Problem{Code: "not_found",
			Title:  text{"Usuario no encontrado", "User not found"},
			Detail: text{"No existe un usuario con ese identificador que usted pueda ver. Use /v1/users/me para su propia cuenta.", "There is no user with that identifier that you can see. Use /v1/users/me for your own account."}})
	}
	httpx.NoStore(w)
	writeUser(w, http.StatusOK, user)
	return nil
}

func (u *Users) patchMe(w http.ResponseWriter, r *http.Request) error {
	user, err := u.caller(r)
	if err != nil {
		return err
	}
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
			Detail: text{"\"id\" no corresponde a su cuenta. Quítelo o use el de su cuenta.", "\"id\" is not your account's. Remove it or use your account's id."}})
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
	if upd.CurrentPassword != nil && upd.Password == nil {
		return newError(http.StatusUnprocessableEntity, Problem{Code: "required", Pointer: "/data/attributes/password",
			Title:  text{"Valor no válido", "Invalid value"},
			Detail: text{"Envió current_password sin una contraseña nueva: agregue \"password\" o quite \"current_password\".", "current_password was sent without a new password: add \"password\" or remove \"current_password\"."}})
	}
	nu, err := u.svc.UpdateProfile(r.Context(), user.ID, upd)
	if err != nil {
		return accountError(err)
	}
	httpx.NoStore(w)
	writeUser(w, http.StatusOK, nu)
	return nil
}

func (u *Users) deleteMe(w http.ResponseWriter, r *http.Request) error {
	user, err := u.caller(r)
	if err != nil {
		return err
	}
	if err := u.svc.Delete(r.Context(), user.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// plainUser is the seed-004 view of a user (Django REST framework style).
type plainUser struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Activated bool      `json:"activated"`
	Status    string    `json:"status"`
	AvatarURL *string   `json:"avatar_url"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func (u *Users) getMePlain(w http.ResponseWriter, r *http.Request) error {
	user, err := u.caller(r)
	if err != nil {
		return err
	}
	a := attributes(user)
	httpx.NoStore(w)
	writeJSON(w, "application/json", http.StatusOK, plainUser{
		ID: user.ID, Username: user.Email, Email: a.Email, FirstName: a.FirstName, LastName: a.LastName,
		Activated: a.Activated, Status: a.Status, AvatarURL: a.AvatarURL, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	})
	return nil
}
