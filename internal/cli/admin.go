package cli

import (
	"bufio"
	"errors"
	"fmt"
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
// here reach running servers through the shared database.
func open(g *config.Global, env *Env) (*sqlstore.DB, config.Backend, error) {
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
	Create       ClientsCreateCmd `cmd:"" help:"Crea una aplicación; imprime client_id y, si es confidencial, client_secret (una sola vez)."`
	List         ClientsListCmd   `cmd:"" help:"Lista las aplicaciones."`
	Delete       ClientsDeleteCmd `cmd:"" help:"Borra una aplicación y todo lo emitido a ella."`
	RotateSecret ClientsRotateCmd `cmd:"" name:"rotate-secret" help:"Nuevo secreto; el anterior deja de funcionar al instante."`
}

// ClientsCreateCmd creates a client.
type ClientsCreateCmd struct {
	Name                  string   `required:"" help:"Nombre visible en la pantalla de consentimiento."`
	Type                  string   `default:"confidential" enum:"confidential,public" help:"confidential (con secreto) o public."`
	Grant                 []string `help:"Tipo de concesión (grant_type), repetible: authorization_code, refresh_token, password, client_credentials, urn:ietf:params:oauth:grant-type:device_code."`
	RedirectURI           []string `name:"redirect-uri" help:"URI de redirección, repetible."`
	PostLogoutURI         []string `name:"post-logout-redirect-uri" help:"URI tras cerrar sesión, repetible."`
	Scope                 []string `help:"Alcance permitido, repetible (por defecto todos)."`
	Owner                 string   `help:"ID o email del usuario dueño."`
	Legacy                bool     `help:"Permite response_type=token (implícito, desaconsejado por RFC 9700)."`
	OfflineAccessRequired bool     `name:"offline-access-required" help:"Refresh tokens de authorization_code y device_code solo si se concedió offline_access (OpenID Connect Core §11); sin esto, uno con cada autorización (comportamiento de Multinexo). / Refresh tokens only when offline_access was granted."`
	FirstParty            bool     `name:"first-party" help:"Aplicación propia del operador: puede recibir el alcance account (cambiar o eliminar la cuenta, gestionar aplicaciones y conexiones). Los clientes con el grant password lo son siempre."`
	IDTokenAlg            string   `name:"id-token-alg" help:"Algoritmo de sus ID tokens (id_token_signed_response_alg): RS256 o ES256; vacío = el del servidor (--id-alg). ES256 firma ~40 veces más rápido que RS256."`
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
	CreatedAt              time.Time `json:"created_at"`
}

func toClientJSON(c *store.Client, secret string) clientJSON {
	return clientJSON{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name, Type: c.Type,
		Grants: nonNil(c.Grants), RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		Scopes: nonNil(c.Scopes), Owner: c.OwnerID, Legacy: c.Legacy, FirstParty: c.IsFirstParty(), OfflineRequired: c.OfflineAccessRequired, Disabled: c.Disabled, IDTokenAlg: c.IDTokenAlg,
		CreatedAt: c.CreatedAt,
	}
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
	cl, secret, err := clients.Create(env.Ctx, db, clients.CreateInput{
		Name: c.Name, Type: c.Type, Grants: c.Grant, RedirectURIs: c.RedirectURI,
		PostLogoutRedirectURIs: c.PostLogoutURI, Scopes: c.Scope, OwnerID: owner, Legacy: c.Legacy, FirstParty: c.FirstParty, OfflineAccessRequired: c.OfflineAccessRequired,
		IDTokenAlg: c.IDTokenAlg,
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
	ID string `arg:"" help:"client_id"`
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
	ID string `arg:"" help:"client_id"`
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
	Create   UsersCreateCmd   `cmd:"" help:"Crea un usuario; la contraseña se lee de la entrada estándar."`
	List     UsersListCmd     `cmd:"" help:"Lista los usuarios."`
	Disable  UsersDisableCmd  `cmd:"" help:"Desactiva un usuario y revoca todo lo que tiene."`
	ResetMFA UsersResetMFACmd `cmd:"" name:"reset-mfa" help:"Quita la verificación en dos pasos de un usuario que perdió su teléfono y sus códigos de recuperación."`
}

// UsersResetMFACmd removes a user's second factor and recovery codes, for a
// person who lost both the authenticator and the recovery codes. The
// operator must have checked who is asking.
type UsersResetMFACmd struct {
	User string `arg:"" help:"ID o email del usuario."`
}

func (c *UsersResetMFACmd) Run(g *config.Global, env *Env) error {
	return onUser(g, env, c.User, func(db *sqlstore.DB, u *store.User) error {
		if err := db.DisableTOTP(env.Ctx, u.ID, time.Now()); err != nil {
			return err
		}
		if _, err := db.DeleteUserSessions(env.Ctx, u.ID); err != nil {
			return err
		}
		event(env, db, "mfa.reset", u.ID, "")
		fmt.Fprintf(env.Stdout, "verificación en dos pasos quitada a %s; podrá activarla de nuevo en /account / second factor removed\n", u.Email)
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
	Email     string `required:""`
	FirstName string `required:"" name:"first-name"`
	LastName  string `required:"" name:"last-name"`
	Admin     bool   `help:"Rol de administrador (panel /admin)."`
	// EmailVerified: the operator vouches for the address; otherwise the
	// email_verified claim stays false until the owner proves it.
	EmailVerified bool `name:"email-verified" help:"El operador da fe de que el email es de esta persona (email_verified: true)."`
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
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && line == "" {
		return usage(errors.New("escriba la contraseña en la entrada estándar, por ejemplo: echo 'contraseña larga' | multinexo users create … / the password is read from standard input"))
	}
	password := strings.TrimRight(line, "\r\n")
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
	User string `arg:"" help:"ID o email del usuario."`
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
	Rotate KeysRotateCmd `cmd:"" help:"Nueva clave de firma; las públicas anteriores siguen en el JWKS hasta que expiren sus tokens."`
}

// KeysRotateCmd rotates the signing keys.
type KeysRotateCmd struct {
	AccessAlg string `default:"ES256" enum:"ES256,RS256,EdDSA" env:"MULTINEXO_ACCESS_ALG"`
	IDAlg     string `default:"RS256" enum:"ES256,RS256,EdDSA" env:"MULTINEXO_ID_ALG"`
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
