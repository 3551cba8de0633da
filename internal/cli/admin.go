package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/clients"
	"github.com/multinexo/auth/internal/config"
	"github.com/multinexo/auth/internal/server"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/store/sqlstore"
	"github.com/multinexo/auth/internal/token"
)

// open opens and migrates the store for an operator command. Changes made
// here reach running servers through the shared database. A SQLite file
// that does not exist is refused (requireDatabase): only serve and migrate
// create one.
func open(g *config.Global, env *Env) (*sqlstore.DB, config.Backend, error) {
	if err := requireDatabase(g, "", ""); err != nil {
		return nil, config.Backend{}, err
	}
	db, b, err := server.OpenStore(env.Ctx, *g)
	if err != nil {
		return nil, b, usageIfConfig(err, g)
	}
	if err := db.Migrate(env.Ctx); err != nil {
		db.Close()
		return nil, b, err
	}
	return db, b, nil
}

// requireDatabase refuses (exit 2) a --db naming a SQLite file that does not
// exist, with the absolute path it tried: an operator command run outside
// the server's directory would otherwise create an empty database and
// report success into it. hintES and hintEN, when not empty, end the
// Spanish and the English message.
func requireDatabase(g *config.Global, hintES, hintEN string) error {
	b, err := config.ParseDB(g.DB)
	if err != nil {
		return usage(err)
	}
	if b.Kind != "sqlite" {
		return nil
	}
	if _, err := os.Stat(b.Path); err == nil {
		return nil
	}
	path := b.Path
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if hintES != "" {
		hintES, hintEN = "; "+hintES, "; "+hintEN
	}
	return usage(fmt.Errorf("--db %s: no existe la base de datos %s; --db debe señalar la del servidor (multinexo migrate crea una nueva)%s / "+
		"no such database %s; point --db at the server's database (multinexo migrate creates a new one)%s", g.DB, path, hintES, path, hintEN))
}

// event records an operator action for the admin panel's security events.
// A failure to record is reported but does not undo the action.
func event(env *Env, db *sqlstore.DB, typ, userID, clientID string) {
	err := db.RecordEvent(env.Ctx, &store.Event{Time: time.Now(), Type: typ, UserID: userID, ClientID: clientID, Detail: "multinexo command line"})
	if err != nil {
		fmt.Fprintf(env.Stderr, "multinexo: warning: could not record the %s event: %v\n", typ, err)
	}
}

// ClientsCmd groups the client commands.
type ClientsCmd struct {
	Create       ClientsCreateCmd `cmd:"" help:"Crea una aplicación; imprime client_id y, si es confidencial, client_secret (una sola vez) / Creates an application; prints client_id and, if confidential, client_secret (once)."`
	List         ClientsListCmd   `cmd:"" help:"Lista las aplicaciones / Lists applications."`
	Delete       ClientsDeleteCmd `cmd:"" help:"Borra una aplicación y todo lo emitido a ella / Deletes an application and all issued to it."`
	RotateSecret ClientsRotateCmd `cmd:"" name:"rotate-secret" help:"Nuevo secreto de cliente; el anterior deja de funcionar al instante / New client secret; the old one stops working at once."`
}

// ClientsCreateCmd creates a client.
type ClientsCreateCmd struct {
	Name                  string   `required:"" help:"Nombre visible en la pantalla de consentimiento / name shown on the consent page."`
	Type                  string   `default:"confidential" enum:"confidential,public" help:"confidential (con secreto de cliente) o public / confidential (with a client secret) or public."`
	Grant                 []string `help:"Tipo de concesión (grant_type), repetible / grant type, repeatable: authorization_code, refresh_token, password, client_credentials, urn:ietf:params:oauth:grant-type:device_code."`
	RedirectURI           []string `name:"redirect-uri" help:"URI de redirección, repetible / redirect URI, repeatable."`
	PostLogoutURI         []string `name:"post-logout-redirect-uri" help:"URI tras cerrar sesión, repetible / post-logout redirect URI, repeatable."`
	Scope                 []string `help:"Alcance permitido, repetible (por defecto todos) / allowed scope, repeatable (default: all)."`
	Owner                 string   `help:"ID o email del usuario dueño / ID or email of the owning user."`
	Legacy                bool     `help:"Permite response_type=token (implícito, desaconsejado por RFC 9700) / allows response_type=token (implicit, discouraged by RFC 9700)."`
	OfflineAccessRequired bool     `name:"offline-access-required" help:"Refresh tokens de authorization_code y device_code solo si se concedió offline_access (OpenID Connect Core §11); sin esto, uno con cada autorización / refresh tokens from the code and device flows only when offline_access was granted; without it, one with every authorization."`
	FirstParty            bool     `name:"first-party" help:"Aplicación propia del operador: puede recibir el alcance account (cambiar o eliminar la cuenta, gestionar aplicaciones y conexiones). Los clientes con el grant password lo son siempre / the operator's own application: may be granted the account scope; clients with the password grant always are."`
	IDTokenAlg            string   `name:"id-token-alg" help:"Algoritmo de sus ID tokens (id_token_signed_response_alg): RS256 o ES256; vacío = el del servidor (--id-alg); ES256 cuesta mucho menos CPU / its ID-token algorithm: RS256 or ES256; empty: the server's (--id-alg); ES256 costs far less CPU."`
}

// clientJSON is how commands print a client.
type clientJSON struct {
	ClientID               string    `json:"client_id"`
	ClientSecret           string    `json:"client_secret,omitempty"`
	Name                   string    `json:"name"`
	Type                   string    `json:"type"`
	Grants                 []string  `json:"grants"`
	RedirectURIs           []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs []string  `json:"post_logout_redirect_uris,omitempty"`
	Scopes                 []string  `json:"scopes"`
	Owner                  string    `json:"owner,omitempty"`
	Legacy                 bool      `json:"legacy,omitempty"`
	FirstParty             bool      `json:"first_party"`
	OfflineRequired        bool      `json:"offline_access_required"`
	Disabled               bool      `json:"disabled,omitempty"`
	IDTokenAlg             string    `json:"id_token_signed_response_alg,omitempty"`
	Origin                 string    `json:"origin"`
	CreatedAt              time.Time `json:"created_at"`
}

func toClientJSON(c *store.Client, secret string) clientJSON {
	return clientJSON{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name, Type: c.Type,
		Grants: nonNil(c.Grants), RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		Scopes: nonNil(c.Scopes), Owner: c.OwnerID, Legacy: c.Legacy, FirstParty: c.IsFirstParty(), OfflineRequired: c.OfflineAccessRequired, Disabled: c.Disabled, IDTokenAlg: c.IDTokenAlg,
		Origin: origin(c), CreatedAt: c.CreatedAt,
	}
}

// origin names how a client came to be; for clients made before that was
// recorded: developer when a user owns it, else operator.
func origin(c *store.Client) string {
	switch {
	case c.Origin != "":
		return c.Origin
	case c.OwnerID != "":
		return store.OriginDeveloper
	}
	return "operator"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (c *ClientsCreateCmd) Run(g *config.Global, env *Env) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	owner := ""
	if c.Owner != "" {
		u, err := findUser(env, db, c.Owner)
		if err != nil {
			return usage(fmt.Errorf("--owner %q: %w", c.Owner, err))
		}
		owner = u.ID
	}
	var known []string // nil: the built-in scopes, every one but account by default
	if len(c.Scope) > 0 {
		// Named scopes may also be those the protected resources define.
		if known, err = knownScopes(env, db); err != nil {
			return err
		}
	}
	cl, secret, err := clients.Create(env.Ctx, db, clients.CreateInput{
		Name: c.Name, Type: c.Type, Grants: c.Grant, RedirectURIs: c.RedirectURI,
		PostLogoutRedirectURIs: c.PostLogoutURI, Scopes: c.Scope, OwnerID: owner, Legacy: c.Legacy, FirstParty: c.FirstParty, OfflineAccessRequired: c.OfflineAccessRequired,
		IDTokenAlg: c.IDTokenAlg, KnownScopes: known, Origin: store.OriginCLI,
	}, time.Now())
	var ie *clients.InputError
	if errors.As(err, &ie) {
		flag := strings.ReplaceAll(ie.Field, "_", "-")
		if ie.Field == "id_token_signed_response_alg" {
			flag = "id-token-alg"
		}
		return usage(fmt.Errorf("--%s: %s", flag, ie.Message))
	}
	if err != nil {
		return err
	}
	event(env, db, "client.created", owner, cl.ID)
	return printJSON(env.Stdout, toClientJSON(cl, secret))
}

// ClientsListCmd lists clients.
type ClientsListCmd struct{}

func (ClientsListCmd) Run(g *config.Global, env *Env) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	out := []clientJSON{}
	for page := 1; ; page++ {
		cs, total, err := db.ListClients(env.Ctx, "", store.ListOptions{Page: store.Page{Number: page, Size: 100}, Sort: "created_at"})
		if err != nil {
			return err
		}
		for _, c := range cs {
			out = append(out, toClientJSON(c, ""))
		}
		if len(cs) == 0 || len(out) >= total {
			break
		}
	}
	return printJSON(env.Stdout, out)
}

// ClientsDeleteCmd deletes a client.
type ClientsDeleteCmd struct {
	ID string `arg:"" help:"client_id de la aplicación / the application's client_id."`
}

func (c *ClientsDeleteCmd) Run(g *config.Global, env *Env) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.DeleteClient(env.Ctx, c.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no existe la aplicación %q / no such client", c.ID)
		}
		return err
	}
	event(env, db, "client.deleted", "", c.ID)
	fmt.Fprintf(env.Stdout, "aplicación %s borrada / client deleted\n", c.ID)
	return nil
}

// ClientsRotateCmd rotates a client's secret.
type ClientsRotateCmd struct {
	ID string `arg:"" help:"client_id de la aplicación / the application's client_id."`
}

func (c *ClientsRotateCmd) Run(g *config.Global, env *Env) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	cl, err := db.GetClient(env.Ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no existe la aplicación %q / no such client", c.ID)
	}
	if err != nil {
		return err
	}
	secret, err := clients.RotateSecret(env.Ctx, db, cl, time.Now())
	if err != nil {
		return err
	}
	event(env, db, "client.secret_rotated", "", cl.ID)
	return printJSON(env.Stdout, map[string]string{"client_id": cl.ID, "client_secret": secret})
}

// UsersCmd groups the user commands.
type UsersCmd struct {
	Create      UsersCreateCmd      `cmd:"" help:"Crea un usuario; la contraseña se lee de la entrada estándar / Creates a user; the password is read from standard input."`
	List        UsersListCmd        `cmd:"" help:"Lista los usuarios / Lists users."`
	Disable     UsersDisableCmd     `cmd:"" help:"Desactiva un usuario y revoca todo lo que tiene / Disables a user and revokes all it holds."`
	Enable      UsersEnableCmd      `cmd:"" help:"Reactiva un usuario desactivado; lo revocado sigue revocado / Enables a disabled user; what was revoked stays revoked."`
	Admin       UsersAdminCmd       `cmd:"" help:"Da el rol de administrador (panel /admin), o lo quita con --remove / Makes a user an administrator, or removes the role with --remove."`
	SetAdmin    UsersSetAdminCmd    `cmd:"" name:"set-admin" hidden:"" help:"= users admin USUARIO / USER"`
	UnsetAdmin  UsersUnsetAdminCmd  `cmd:"" name:"unset-admin" hidden:"" help:"= users admin --remove USUARIO / USER"`
	SetPassword UsersSetPasswordCmd `cmd:"" name:"set-password" help:"Nueva contraseña, leída de la entrada estándar; cierra todas las sesiones del usuario / New password, read from standard input; ends every session of the user."`
	SendReset   UsersSendResetCmd   `cmd:"" name:"send-reset" help:"Envía por correo un enlace para elegir una contraseña nueva (lo entrega el servidor en marcha) / Mails a password-reset link (the running server delivers it)."`
	ResetMFA    UsersResetMFACmd    `cmd:"" name:"reset-mfa" help:"Quita la verificación en dos pasos y las llaves de acceso a quien perdió su teléfono y sus códigos de recuperación / Removes the second factor and the passkeys of a user who lost both phone and recovery codes."`
}

// UsersEnableCmd enables a disabled user, as the admin panel does.
type UsersEnableCmd struct {
	User string `arg:"" help:"ID o email del usuario / user ID or email."`
}

func (c *UsersEnableCmd) Run(g *config.Global, env *Env) error {
	return onUser(g, env, c.User, func(db *sqlstore.DB, u *store.User) error {
		off := false
		if _, err := db.UpdateUser(env.Ctx, u.ID, store.UserUpdate{Disabled: &off}, time.Now().UTC()); err != nil {
			return err
		}
		event(env, db, "user.enabled", u.ID, "")
		fmt.Fprintf(env.Stdout, "usuario %s activado; lo revocado al desactivarlo sigue revocado / user enabled\n", u.ID)
		return nil
	})
}

// UsersAdminCmd grants or removes the administrator role.
type UsersAdminCmd struct {
	Remove bool   `help:"Quita el rol en lugar de darlo / removes the role instead."`
	User   string `arg:"" help:"ID o email del usuario / user ID or email."`
}

func (c *UsersAdminCmd) Run(g *config.Global, env *Env) error {
	return setAdmin(g, env, c.User, !c.Remove)
}

// UsersSetAdminCmd is `users admin USER` under another name.
type UsersSetAdminCmd struct {
	User string `arg:"" help:"ID o email del usuario / user ID or email."`
}

func (c *UsersSetAdminCmd) Run(g *config.Global, env *Env) error {
	return setAdmin(g, env, c.User, true)
}

// UsersUnsetAdminCmd is `users admin --remove USER` under another name.
type UsersUnsetAdminCmd struct {
	User string `arg:"" help:"ID o email del usuario / user ID or email."`
}

func (c *UsersUnsetAdminCmd) Run(g *config.Global, env *Env) error {
	return setAdmin(g, env, c.User, false)
}

// setAdmin gives (on) or removes the administrator role of a user. The
// panel reads the role from the store on every request, so a running
// server applies it at once.
func setAdmin(g *config.Global, env *Env, idOrEmail string, on bool) error {
	return onUser(g, env, idOrEmail, func(db *sqlstore.DB, u *store.User) error {
		if _, err := db.UpdateUser(env.Ctx, u.ID, store.UserUpdate{Admin: &on}, time.Now().UTC()); err != nil {
			return err
		}
		if on {
			event(env, db, "user.admin_granted", u.ID, "")
			fmt.Fprintf(env.Stdout, "%s es administrador / is an administrator\n", u.Email)
		} else {
			event(env, db, "user.admin_removed", u.ID, "")
			fmt.Fprintf(env.Stdout, "%s ya no es administrador / is no longer an administrator\n", u.Email)
		}
		return nil
	})
}

// UsersSetPasswordCmd sets a user's password for support, with the same
// policy as a change by the user; every browser session of the account ends.
type UsersSetPasswordCmd struct {
	User   string `arg:"" help:"ID o email del usuario / user ID or email."`
	Issuer string `help:"URL pública del servidor (remitente del aviso por correo) / the server's public URL (sender of the mailed notice)." default:"http://localhost:8080" env:"MULTINEXO_ISSUER"`
}

func (c *UsersSetPasswordCmd) Run(g *config.Global, env *Env) error {
	password, err := readPassword(env, "multinexo users set-password "+c.User)
	if err != nil {
		return err
	}
	if err := config.ValidateIssuer(c.Issuer); err != nil {
		return usage(err)
	}
	return onUser(g, env, c.User, func(db *sqlstore.DB, u *store.User) error {
		b, err := config.ParseDB(g.DB)
		if err != nil {
			return usage(err)
		}
		svc, err := mailingService(g, b, db, c.Issuer)
		if err != nil {
			// Without the server's secret (PostgreSQL without
			// MULTINEXO_SECRET here) no notice can be sealed: set the
			// password anyway, and say so.
			fmt.Fprintf(env.Stderr, "multinexo: aviso: no se enviará el aviso por correo / warning: no notice will be mailed: %v\n", err)
			svc = account.NewService(db, account.Config{})
		}
		// The person is mailed a notice of the new password.
		err = svc.SetPassword(env.Ctx, u.ID, password)
		var ve *account.ValidationError
		if errors.As(err, &ve) {
			return usage(fmt.Errorf("%s: %s", ve.Field, ve.Detail))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "contraseña de %s cambiada; sus sesiones se cerraron / password set; the user's sessions ended\n", u.Email)
		return nil
	})
}

// readPassword reads one line of standard input, without its line ending.
// example is the command shown in the error when there is none.
func readPassword(env *Env, example string) (string, error) {
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", usage(fmt.Errorf("la contraseña se lee de la entrada estándar, por ejemplo: echo 'contraseña larga' | %s / the password is read from standard input", example))
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// UsersResetMFACmd removes a user's second factor and recovery codes, for a
// person who lost both the authenticator and the recovery codes. The
// operator must have checked who is asking.
type UsersResetMFACmd struct {
	User string `arg:"" help:"ID o email del usuario / user ID or email."`
}

func (c *UsersResetMFACmd) Run(g *config.Global, env *Env) error {
	return onUser(g, env, c.User, func(db *sqlstore.DB, u *store.User) error {
		if err := db.DisableTOTP(env.Ctx, u.ID, time.Now()); err != nil {
			return err
		}
		keys, err := db.DeletePasskeys(env.Ctx, u.ID)
		if err != nil {
			return err
		}
		if _, err := db.DeleteUserSessions(env.Ctx, u.ID); err != nil {
			return err
		}
		event(env, db, "mfa.reset", u.ID, fmt.Sprintf("passkeys removed: %d", keys))
		fmt.Fprintf(env.Stdout, "verificación en dos pasos y %d llaves de acceso quitadas a %s; podrá configurarlas de nuevo en /account / second factor and %d passkeys removed\n", keys, u.Email, keys)
		return nil
	})
}

// onUser opens the store, finds the user named by idOrEmail and runs act.
func onUser(g *config.Global, env *Env, idOrEmail string, act func(*sqlstore.DB, *store.User) error) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := findUser(env, db, idOrEmail)
	if err != nil {
		return err
	}
	return act(db, u)
}

// UsersCreateCmd creates a user.
type UsersCreateCmd struct {
	Email     string `required:"" help:"Email, con el que inicia sesión / email, used to sign in."`
	FirstName string `required:"" name:"first-name" help:"Nombre / first name."`
	LastName  string `required:"" name:"last-name" help:"Apellido / last name."`
	Admin     bool   `help:"Rol de administrador (panel /admin) / administrator role (the /admin panel)."`
	// EmailVerified: the operator vouches for the address; otherwise the
	// email_verified claim stays false until the owner proves it.
	EmailVerified bool `name:"email-verified" help:"El operador da fe de que el email es de esta persona (email_verified: true) / the operator vouches that the address is this person's."`
}

type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	FirstName string    `json:"first_name"`
	LastName  string    `json:"last_name"`
	Admin     bool      `json:"admin"`
	Disabled  bool      `json:"disabled"`
	Verified  bool      `json:"email_verified"`
	CreatedAt time.Time `json:"created_at"`
}

func toUserJSON(u *store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Admin: u.Admin, Disabled: u.Disabled, Verified: u.EmailVerified, CreatedAt: u.CreatedAt}
}

func (c *UsersCreateCmd) Run(g *config.Global, env *Env) error {
	password, err := readPassword(env, "multinexo users create …")
	if err != nil {
		return err
	}
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := account.NewService(db, account.Config{})
	u, err := svc.Register(env.Ctx, account.RegisterInput{Email: c.Email, Password: password, FirstName: c.FirstName, LastName: c.LastName, Admin: c.Admin, EmailVerified: c.EmailVerified})
	var ve *account.ValidationError
	switch {
	case errors.As(err, &ve):
		return usage(fmt.Errorf("%s: %s", ve.Field, ve.Detail))
	case errors.Is(err, account.ErrEmailTaken):
		return fmt.Errorf("el email %q ya está registrado / email already registered", c.Email)
	case err != nil:
		return err
	}
	return printJSON(env.Stdout, toUserJSON(u))
}

// UsersListCmd lists users.
type UsersListCmd struct{}

func (UsersListCmd) Run(g *config.Global, env *Env) error {
	db, _, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	out := []userJSON{}
	for page := 1; ; page++ {
		us, total, err := db.ListUsers(env.Ctx, store.ListOptions{Page: store.Page{Number: page, Size: 100}, Sort: "created_at"})
		if err != nil {
			return err
		}
		for _, u := range us {
			out = append(out, toUserJSON(u))
		}
		if len(us) == 0 || len(out) >= total {
			break
		}
	}
	return printJSON(env.Stdout, out)
}

// UsersDisableCmd disables a user.
type UsersDisableCmd struct {
	User string `arg:"" help:"ID o email del usuario / user ID or email."`
}

func (c *UsersDisableCmd) Run(g *config.Global, env *Env) error {
	return onUser(g, env, c.User, func(db *sqlstore.DB, u *store.User) error {
		if err := db.DisableUser(env.Ctx, u.ID, time.Now()); err != nil {
			return err
		}
		event(env, db, "user.disabled", u.ID, "")
		fmt.Fprintf(env.Stdout, "usuario %s desactivado; sus sesiones y tokens quedaron revocados / user disabled\n", u.ID)
		return nil
	})
}

// findUser looks a user up by id or email.
func findUser(env *Env, db *sqlstore.DB, idOrEmail string) (*store.User, error) {
	if strings.Contains(idOrEmail, "@") {
		_, key, err := account.NormalizeEmail(idOrEmail)
		if err != nil {
			return nil, err
		}
		u, err := db.GetUserByEmailKey(env.Ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("no existe el usuario %q / no such user", idOrEmail)
		}
		return u, err
	}
	u, err := db.GetUser(env.Ctx, idOrEmail)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no existe el usuario %q / no such user", idOrEmail)
	}
	return u, err
}

// KeysCmd groups key commands.
type KeysCmd struct {
	Rotate KeysRotateCmd `cmd:"" help:"Nueva clave de firma; las públicas anteriores siguen en el JWKS hasta que expiren sus tokens / New signing keys; the old public keys stay in the JWKS until their tokens expire."`
}

// KeysRotateCmd rotates the signing keys.
type KeysRotateCmd struct {
	AccessAlg string `default:"ES256" enum:"ES256,RS256,EdDSA" env:"MULTINEXO_ACCESS_ALG" help:"Algoritmo de la nueva clave de los access tokens / algorithm of the new access-token key."`
	IDAlg     string `default:"RS256" enum:"ES256,RS256,EdDSA" env:"MULTINEXO_ID_ALG" help:"Algoritmo de la nueva clave de los ID tokens / algorithm of the new ID-token key."`
}

func (c *KeysRotateCmd) Run(g *config.Global, env *Env) error {
	db, b, err := open(g, env)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := server.LoadSecret(*g, b, newLogger(g, env.Stderr))
	if err != nil {
		return err
	}
	km, err := token.NewKeyManager(db, token.KeyConfig{Secret: secret, AccessAlg: c.AccessAlg, IDAlg: c.IDAlg, MaxTokenTTL: server.MaxTokenTTL, Now: time.Now})
	if err != nil {
		return err
	}
	if err := km.Rotate(env.Ctx); err != nil {
		return err
	}
	d := km.PublishDelay().Round(time.Second)
	fmt.Fprintf(env.Stdout, "claves nuevas publicadas; firman dentro de %s (las anteriores siguen publicadas hasta que expiren sus tokens) / "+
		"new keys published; they sign in %s (the old ones stay published until their tokens expire)\n", d, d)
	return nil
}
