package web

// Texts of the recovery pages (recover.go), merged into messages.
var recoverMessages = map[string][2]string{
	"register.checkmail":       {"Tu cuenta está creada. Te enviamos un enlace a {email}: ábrelo para confirmar tu correo y después inicia sesión.", "Your account is created. We sent a link to {email}: open it to confirm your email, then sign in."},
	"login.forgot":             {"¿Olvidaste tu contraseña?", "Forgot your password?"},
	"login.unverified":         {"Antes de iniciar sesión, confirma tu correo con el enlace que te enviamos. Si no lo encuentras, revisa la carpeta de spam o vuelve a intentarlo más tarde para recibir otro.", "Before signing in, confirm your email with the link we sent you. If you cannot find it, check the spam folder or try again later to get another."},
	"login.unverifiedsent":     {"Antes de iniciar sesión, confirma tu correo: te enviamos un enlace nuevo. Ábrelo y vuelve a iniciar sesión.", "Before signing in, confirm your email: we sent you a new link. Open it and sign in again."},
	"forgot.title":             {"Recuperar tu cuenta", "Recover your account"},
	"forgot.intro":             {"Escribe el correo de tu cuenta y te enviaremos un enlace para elegir una contraseña nueva.", "Enter your account's email and we will send you a link to choose a new password."},
	"forgot.submit":            {"Enviar el enlace", "Send the link"},
	"forgot.back":              {"Volver a iniciar sesión", "Back to sign in"},
	"forgot.required":          {"Escribe tu correo.", "Enter your email."},
	"forgot.sent":              {"Si hay una cuenta con ese correo, te enviamos un enlace para elegir una contraseña nueva. Vale 30 minutos; si no llega, revisa la carpeta de spam.", "If an account has that email, we sent it a link to choose a new password. It is valid for 30 minutes; if it does not arrive, check the spam folder."},
	"forgot.throttled":         {"Se pidieron demasiados enlaces seguidos. Revisa tu correo o espera un rato antes de pedir otro.", "Too many links were asked for in a row. Check your mail or wait a while before asking for another."},
	"reset.title":              {"Elige una contraseña nueva", "Choose a new password"},
	"reset.intro":              {"Elige la contraseña nueva de", "Choose the new password of"},
	"reset.rules":              {"Al menos 8 caracteres; una frase de varias palabras es fácil de recordar. Al guardarla cerraremos todas tus sesiones y desconectaremos tus aplicaciones.", "At least 8 characters; a phrase of several words is easy to remember. Saving it ends all your sessions and disconnects your applications."},
	"reset.submit":             {"Guardar la contraseña", "Save the password"},
	"reset.totp":               {"Tu cuenta tiene un segundo factor: después de cambiar la contraseña te seguiremos pidiendo el código de tu aplicación de autenticación (o un código de recuperación). Este enlace prueba que el correo es tuyo, no el teléfono.", "Your account has a second factor: after changing the password we will still ask for the code of your authenticator app (or a recovery code). This link proves the mailbox is yours, not the phone."},
	"reset.done":               {"Tu contraseña se cambió. Cerramos todas tus sesiones: inicia sesión con la contraseña nueva.", "Your password was changed. We ended all your sessions: sign in with the new password."},
	"reset.totpafter":          {"Al iniciar sesión te pediremos también el código de tu segundo factor.", "When you sign in we will also ask for your second factor's code."},
	"verify.title":             {"Confirma tu correo", "Confirm your email"},
	"verify.intro":             {"Pulsa el botón para confirmar que {email} es tu correo.", "Press the button to confirm that {email} is your email."},
	"verify.submit":            {"Confirmar mi correo", "Confirm my email"},
	"verify.done":              {"Listo: tu correo está verificado.", "Done: your email is verified."},
	"confirmemail.title":       {"Confirma tu nuevo correo", "Confirm your new email"},
	"confirmemail.intro":       {"Pulsa el botón para usar {email} en tu cuenta. Desde ese momento inicias sesión con ese correo.", "Press the button to use {email} for your account. From then on you sign in with it."},
	"confirmemail.submit":      {"Usar este correo", "Use this email"},
	"confirmemail.done":        {"Listo: tu cuenta usa el correo nuevo.", "Done: your account uses the new email."},
	"link.invalid":             {"Este enlace no es válido: cópialo completo desde el mensaje o pide uno nuevo.", "This link is not valid: copy it whole from the message or ask for a new one."},
	"link.expired":             {"Este enlace caducó. Pide uno nuevo.", "This link has expired. Ask for a new one."},
	"link.used":                {"Este enlace ya se usó (o pediste otro después). Pide uno nuevo si lo necesitas.", "This link was already used (or you asked for another since). Ask for a new one if you need it."},
	"link.taken":               {"Otra cuenta ya usa ese correo, así que no podemos cambiar el tuyo a él. Elige otro correo en tu cuenta.", "Another account already uses that email, so we cannot change yours to it. Choose another email in your account."},
	"link.newreset":            {"Pedir un enlace nuevo", "Ask for a new link"},
	"link.login":               {"Iniciar sesión", "Sign in"},
	"link.account":             {"Ir a mi cuenta", "Go to my account"},
	"account.emailpending":     {"Te enviamos un enlace a tu correo nuevo. Tu cuenta lo usará cuando lo abras; hasta entonces sigue con el actual.", "We sent a link to your new email. Your account uses it once you open the link; until then it keeps the current one."},
	"account.unverified":       {"Tu correo aún no está verificado: abre el enlace que te enviamos.", "Your email is not verified yet: open the link we sent you."},
	"account.resend":           {"Enviarme un enlace nuevo", "Send me a new link"},
	"account.verificationsent": {"Te enviamos un enlace nuevo. Ábrelo en las próximas 24 horas para verificar tu correo.", "We sent you a new link. Open it within 24 hours to verify your email."},
	"account.nomail":           {"Este servidor no envía correo. Pide a quien lo administra que verifique tu dirección.", "This server sends no mail. Ask its administrator to verify your address."},
	"admin.emailverified":      {"Correo verificado", "Email verified"},
	"admin.yes":                {"sí", "yes"},
	"admin.no":                 {"no", "no"},
	"admin.sendreset":          {"Enviar un enlace para elegir contraseña", "Send a password-reset link"},
	"admin.user.resetsent":     {"Se envió el enlace (vale 30 minutos). Su estado está en Correo saliente.", "The link was sent (valid for 30 minutes). Its state is under Outgoing mail."},
	"admin.user.noreset":       {"No se puede enviar el enlace: la cuenta está desactivada o este servidor no envía correo.", "The link cannot be sent: the account is disabled or this server sends no mail."},
	"admin.mail":               {"Correo saliente", "Outgoing mail"},
	"admin.mailstate":          {"Estado", "State"},
	"admin.mailkind":           {"Mensaje", "Message"},
	"admin.mailto":             {"Para", "To"},
	"admin.mailattempts":       {"Intentos", "Attempts"},
	"admin.mailnext":           {"Próximo intento", "Next attempt"},
	"admin.mailerror":          {"Último error", "Last error"},
	"admin.mailnone":           {"No hay mensajes.", "No messages."},
}

func init() {
	for k, v := range recoverMessages {
		if _, dup := messages[k]; dup {
			panic("web: message " + k + " defined twice")
		}
		messages[k] = v
	}
}
