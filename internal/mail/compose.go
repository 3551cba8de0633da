// Package mail is the server's mail: the messages about accounts
// (verification, password reset, email change and their notices), composed
// into the durable outbox (store.MailStore) with the change that causes
// them, and a Deliverer that every instance runs to send what is due,
// through an SMTP relay (SMTPSender) or, without one, to the log
// (LogSender) so a developer can follow the links.
//
// A message's body holds its link, a bearer secret: it is sealed with the
// server secret before it reaches the outbox and opened only to send it.
package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/token"
)

// Message kinds.
const (
	KindVerify            = "verify"              // verification link (registration, resend)
	KindReset             = "reset"               // password reset link
	KindPasswordChanged   = "password_changed"    // notice after a reset
	KindPasswordUpdated   = "password_updated"    // notice after a change on /account, the API or by the operator
	KindEmailChange       = "email_change"        // confirmation link, to the new address
	KindEmailChangeNotice = "email_change_notice" // notice, to the old address
)

// sealPurpose derives the key that seals outbox bodies.
const sealPurpose = "multinexo outbox bodies v1"

// Content is a message's body as sealed in the outbox.
type Content struct {
	Text string `json:"text"`
	HTML string `json:"html"`
	// Link is the message's link ("" for a notice), for the log sender.
	Link string `json:"link,omitempty"`
}

// Composer builds outbox messages: the text in the account's language
// (Spanish unless it is English), the body sealed.
type Composer struct {
	sealer *token.Sealer
	issuer string
	host   string
}

// NewComposer returns a Composer for issuer, sealing with secret.
func NewComposer(secret, issuer string) (*Composer, error) {
	s, err := token.NewSealer(secret, sealPurpose)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(issuer)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("mail: issuer %q has no host", issuer)
	}
	return &Composer{sealer: s, issuer: strings.TrimSuffix(issuer, "/"), host: u.Hostname()}, nil
}

// Issuer is the public URL links point to.
func (c *Composer) Issuer() string { return c.issuer }

// Host is the issuer's host (Message-ID domain, default sender).
func (c *Composer) Host() string { return c.host }

// Data fills a message's template.
type Data struct {
	Name string // the person's first name; "" for none
	// Link is the page the message sends the person to ("" for notices).
	Link string
	// Email: the address the message is about (the new one, for a change).
	Email string
	// Expires says how long the link lasts, in words of the language.
	Expires string
}

// Link builds ISSUER/path?token=secret.
func (c *Composer) Link(path, secret string) string {
	return c.issuer + path + "?token=" + url.QueryEscape(secret)
}

// Compose builds the outbox message of kind for recipient, in lang ("en"
// for English, anything else Spanish), created at now.
func (c *Composer) Compose(kind, lang, recipient, userID string, d Data, now time.Time) (*store.OutboxMessage, error) {
	if lang != "en" {
		lang = "es"
	}
	tpl, ok := templates[kind+"."+lang]
	if !ok {
		return nil, fmt.Errorf("mail: no message %q", kind)
	}
	var subj, txt bytes.Buffer
	if err := tpl.subject.Execute(&subj, d); err != nil {
		return nil, err
	}
	if err := tpl.text.Execute(&txt, d); err != nil {
		return nil, err
	}
	var body bytes.Buffer
	if err := tpl.html.Execute(&body, htmlData{Data: d, Subject: subj.String(), Lang: lang, Text: txt.String()}); err != nil {
		return nil, err
	}
	id := randomID()
	m := &store.OutboxMessage{
		ID: id, UserID: userID, Kind: kind, Recipient: recipient, Subject: subj.String(), Lang: lang,
		MessageID: id + "@" + c.host, CreatedAt: now.UTC(),
	}
	plain, err := json.Marshal(Content{Text: txt.String(), HTML: body.String(), Link: d.Link})
	if err != nil {
		return nil, err
	}
	m.Body = c.sealer.Seal(plain, m.ID)
	return m, nil
}

// Open returns the content of a claimed message.
func (c *Composer) Open(m *store.OutboxMessage) (*Content, error) {
	if len(m.Body) == 0 {
		return nil, errors.New("mail: the message has no body any more")
	}
	plain, err := c.sealer.Open(m.Body, m.ID)
	if err != nil {
		return nil, err
	}
	var ct Content
	if err := json.Unmarshal(plain, &ct); err != nil {
		return nil, err
	}
	return &ct, nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// htmlData is what the HTML layout sees.
type htmlData struct {
	Data
	Subject, Lang, Text string
}

type message struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// layout is the HTML part: the text's paragraphs and, when there is one,
// the link as a button and as plain text. No images, no remote content, no
// tracking.
const layout = `<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222; max-width: 36em; margin: 1em auto">
{{range paragraphs .Text}}<p>{{.}}</p>
{{end}}{{if .Link}}<p><a href="{{.Link}}" style="display: inline-block; padding: .6em 1.2em; background: #1a56db; color: #fff; text-decoration: none; border-radius: 4px">{{.Subject}}</a></p>
{{end}}</body></html>
`

func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var templates = map[string]message{}

func init() {
	for key, t := range texts {
		templates[key] = message{
			subject: texttemplate.Must(texttemplate.New("s").Parse(t[0])),
			text:    texttemplate.Must(texttemplate.New("t").Parse(t[1])),
			html:    htmltemplate.Must(htmltemplate.New("h").Funcs(htmltemplate.FuncMap{"paragraphs": paragraphs}).Parse(layout)),
		}
	}
}

// texts: subject and text of each message, Spanish (informal "tú") and
// English. Each says what happened and what to do if it was not you.
var texts = map[string][2]string{
	"verify.es": {"Confirma tu correo", `Hola{{if .Name}} {{.Name}}{{end}}:

Para confirmar que {{.Email}} es tu dirección, abre este enlace (vale {{.Expires}}):

{{.Link}}

Si no creaste una cuenta, ignora este mensaje.`},
	"verify.en": {"Confirm your email", `Hello{{if .Name}} {{.Name}}{{end}},

To confirm that {{.Email}} is your address, open this link (valid for {{.Expires}}):

{{.Link}}

If you did not create an account, ignore this message.`},
	"reset.es": {"Elige una contraseña nueva", `Hola{{if .Name}} {{.Name}}{{end}}:

Alguien (seguramente tú) pidió cambiar la contraseña de la cuenta {{.Email}}. Para elegir una nueva, abre este enlace (vale {{.Expires}} y sirve una sola vez):

{{.Link}}

Si no lo pediste, ignora este mensaje: tu contraseña sigue igual.`},
	"reset.en": {"Choose a new password", `Hello{{if .Name}} {{.Name}}{{end}},

Someone (probably you) asked to change the password of the account {{.Email}}. To choose a new one, open this link (valid for {{.Expires}}, once):

{{.Link}}

If you did not ask for it, ignore this message: your password stays the same.`},
	"password_changed.es": {"Tu contraseña cambió", `Hola{{if .Name}} {{.Name}}{{end}}:

La contraseña de tu cuenta {{.Email}} se cambió con un enlace de recuperación. Cerramos todas tus sesiones y desconectamos todas las aplicaciones: vuelve a iniciar sesión donde la uses.

Si no fuiste tú, pide otro enlace en "¿Olvidaste tu contraseña?" y avisa al administrador.`},
	"password_changed.en": {"Your password changed", `Hello{{if .Name}} {{.Name}}{{end}},

The password of your account {{.Email}} was changed with a recovery link. We ended all your sessions and disconnected every application: sign in again wherever you use it.

If it was not you, ask for another link at "Forgot your password?" and tell the administrator.`},
	"password_updated.es": {"Tu contraseña cambió", `Hola{{if .Name}} {{.Name}}{{end}}:

La contraseña de tu cuenta {{.Email}} se acaba de cambiar, y se cerraron tus otras sesiones.

Si fuiste tú, no tienes que hacer nada. Si no, pide un enlace en "¿Olvidaste tu contraseña?" para elegir otra y avisa al administrador.`},
	"password_updated.en": {"Your password changed", `Hello{{if .Name}} {{.Name}}{{end}},

The password of your account {{.Email}} was just changed, and your other sessions were ended.

If it was you, there is nothing to do. If not, ask for a link at "Forgot your password?" to choose another and tell the administrator.`},
	"email_change.es": {"Confirma tu nuevo correo", `Hola{{if .Name}} {{.Name}}{{end}}:

Para usar {{.Email}} como el correo de tu cuenta, abre este enlace (vale {{.Expires}}):

{{.Link}}

Hasta que lo abras, tu cuenta sigue con el correo anterior. Si no lo pediste, ignora este mensaje.`},
	"email_change.en": {"Confirm your new email", `Hello{{if .Name}} {{.Name}}{{end}},

To use {{.Email}} as your account's email, open this link (valid for {{.Expires}}):

{{.Link}}

Until you open it, your account keeps its current email. If you did not ask for it, ignore this message.`},
	"email_change_notice.es": {"Se pidió cambiar el correo de tu cuenta", `Hola{{if .Name}} {{.Name}}{{end}}:

Se pidió cambiar el correo de tu cuenta a {{.Email}}. El cambio se hará solo si se abre el enlace que enviamos a esa dirección.

Si no fuiste tú, cambia tu contraseña ahora y avisa al administrador.`},
	"email_change_notice.en": {"A change of your account's email was requested", `Hello{{if .Name}} {{.Name}}{{end}},

Someone asked to change your account's email to {{.Email}}. It changes only if the link we sent to that address is opened.

If it was not you, change your password now and tell the administrator.`},
}
