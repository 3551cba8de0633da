package web

import (
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// The pages speak Spanish by default and English when the person asks for
// it: ui_locales of the authorization request first (OIDC Core §3.1.2.1),
// then Accept-Language. A message table embedded in the binary is all two
// languages need.

var (
	supported = []language.Tag{language.Spanish, language.English}
	matcher   = language.NewMatcher(supported)
)

// lang picks "es" or "en" for r; uiLocales is the space-separated
// ui_locales of the authorization request, "" if none.
func (w *Web) lang(r *http.Request, uiLocales string) string {
	for _, s := range strings.Fields(uiLocales) {
		if l, ok := pick(s); ok {
			return l
		}
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err == nil && len(tags) > 0 {
		_, i, conf := matcher.Match(tags...)
		if conf != language.No && i == 1 {
			return "en"
		}
	}
	return "es"
}

// pick maps one language tag to a supported language.
func pick(s string) (string, bool) {
	t, err := language.Parse(s)
	if err != nil {
		return "", false
	}
	base, _ := t.Base()
	switch base.String() {
	case "es":
		return "es", true
	case "en":
		return "en", true
	}
	return "", false
}

// translate returns the text of key in lang; a missing key shows itself, so
// tests notice.
func translate(lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if lang == "en" && m[1] != "" {
		return m[1]
	}
	return m[0]
}

// builtinScopes describe the scopes every server knows.
var builtinScopes = map[string]ScopeText{
	"openid":         {ES: "Confirmar tu identidad", EN: "Confirm your identity"},
	"profile":        {ES: "Ver tu nombre", EN: "See your name"},
	"email":          {ES: "Ver tu dirección de correo", EN: "See your email address"},
	"voucher":        {ES: "Gestionar tus comprobantes", EN: "Manage your vouchers"},
	"offline_access": {ES: "Mantener el acceso cuando no estés conectado", EN: "Keep access when you are not signed in"},
	// Only first-party applications reach a consent page with it.
	"account": {ES: "Administrar tu cuenta: cambiar tus datos y tu correo, eliminarla, y gestionar tus aplicaciones y conexiones", EN: "Manage your account: change your details and email, delete it, and manage your applications and connections"},
}

// scopeText is the sentence for scope s on the consent page.
func (w *Web) scopeText(lang, s string) string {
	if t, ok := w.scopes[s]; ok {
		if lang == "en" && t.EN != "" {
			return t.EN
		}
		if t.ES != "" {
			return t.ES
		}
	}
	if lang == "en" {
		return "Access “" + s + "”"
	}
	return "Acceder a «" + s + "»"
}

// messages: key → {Spanish, English}.
var messages = map[string][2]string{
	"app.name":        {"Multinexo", "Multinexo"},
	"nav.account":     {"Mi cuenta", "My account"},
	"nav.logout":      {"Cerrar sesión", "Sign out"},
	"nav.login":       {"Iniciar sesión", "Sign in"},
	"nav.apps":        {"Mis Aplicaciones", "My applications"},
	"nav.connections": {"Aplicaciones conectadas", "Connected applications"},
	"nav.admin":       {"Administración", "Administration"},
	// Issue 14b: the same links, short, for a phone's width.
	"nav.account.short":     {"Cuenta", "Account"},
	"nav.apps.short":        {"Aplicaciones", "Apps"},
	"nav.connections.short": {"Conexiones", "Connections"},
	"nav.admin.short":       {"Admin", "Admin"},
	"nav.logout.short":      {"Salir", "Sign out"},

	"login.title":     {"Iniciar sesión", "Sign in"},
	"login.intro":     {"Escribe tu correo y tu contraseña de Multinexo.", "Enter your Multinexo email and password."},
	"login.for":       {"para continuar a", "to continue to"},
	"login.email":     {"Correo electrónico", "Email"},
	"login.password":  {"Contraseña", "Password"},
	"login.submit":    {"Iniciar sesión", "Sign in"},
	"login.noaccount": {"¿No tienes cuenta?", "No account yet?"},
	"login.register":  {"Crear una cuenta", "Create an account"},
	"login.invalid":   {"Correo o contraseña incorrectos. Revisa los dos y vuelve a intentarlo.", "Incorrect email or password. Check both and try again."},
	"login.throttled": {"Demasiados intentos fallidos. Espera unos minutos y vuelve a intentarlo.", "Too many failed attempts. Wait a few minutes and try again."},
	"login.busy":      {"El servidor está ocupado. Vuelve a intentarlo en unos segundos.", "The server is busy. Try again in a few seconds."},
	"login.required":  {"Escribe tu correo y tu contraseña.", "Enter your email and your password."},

	"register.title":     {"Crear una cuenta", "Create an account"},
	"register.intro":     {"Completa tus datos. La contraseña debe tener al menos 8 caracteres; una frase de varias palabras es fácil de recordar y difícil de adivinar.", "Fill in your details. The password needs at least 8 characters; a phrase of several words is easy to remember and hard to guess."},
	"register.first":     {"Nombre", "First name"},
	"register.last":      {"Apellido", "Last name"},
	"register.submit":    {"Crear la cuenta", "Create the account"},
	"register.haveone":   {"¿Ya tienes cuenta?", "Already have an account?"},
	"register.taken":     {"Ya existe una cuenta con este correo. Inicia sesión o usa otro correo.", "An account with this email already exists. Sign in or use another email."},
	"register.limited":   {"Se crearon demasiadas cuentas desde esta dirección. Vuelve a intentarlo más tarde.", "Too many accounts were created from this address. Try again later."},
	"register.fixerrors": {"Corrige lo siguiente y vuelve a enviar el formulario:", "Fix the following and send the form again:"},

	"consent.title":                 {"Autorizar el acceso", "Authorize access"},
	"consent.wants":                 {"quiere acceder a tu cuenta de Multinexo para:", "wants to access your Multinexo account to:"},
	"consent.as":                    {"Sesión iniciada como", "Signed in as"},
	"consent.switch":                {"Usar otra cuenta", "Use another account"},
	"consent.redirect":              {"Después de tu respuesta volverás a", "After you answer you will return to"},
	"consent.trust":                 {"Autoriza solo si confías en esta aplicación. Puedes retirar el acceso cuando quieras desde tu cuenta.", "Allow only if you trust this application. You can remove its access at any time from your account."},
	"consent.allow":                 {"Permitir", "Allow"},
	"admin.resources":               {"Recursos", "Resources"},
	"admin.resource.intro":          {"APIs y servidores MCP para los que las aplicaciones piden tokens (parámetro resource, RFC 8707). El nombre aparece en la pantalla de consentimiento.", "APIs and MCP servers applications ask tokens for (the resource parameter, RFC 8707). The name is shown on the consent page."},
	"admin.resource.scopes":         {"Alcances que define", "Scopes it defines"},
	"admin.resource.none":           {"Todavía no hay recursos registrados.", "No resources registered yet."},
	"admin.resource.new":            {"Registrar un recurso", "Register a resource"},
	"admin.resource.create":         {"Registrar", "Register"},
	"admin.resource.created":        {"Recurso registrado.", "Resource registered."},
	"admin.resource.deleted":        {"Recurso borrado: no se emitirán más tokens para él.", "Resource deleted: no more tokens will be issued for it."},
	"admin.resource.delete":         {"Borrar recurso", "Delete resource"},
	"admin.resource.delete.confirm": {"No se emitirán más tokens para este recurso. Los ya emitidos valen hasta que caduquen.", "No more tokens will be issued for this resource. Those already issued work until they expire."},
	"admin.resource.baduri":         {"Escribe un URI absoluto con host, sin fragmento ni espacios, por ejemplo https://api.example.com/mcp.", "Enter an absolute URI with a host, without fragment or spaces, e.g. https://api.example.com/mcp."},
	"admin.resource.badname":        {"Escribe un nombre de 1 a 200 caracteres.", "Enter a name of 1 to 200 characters."},
	"admin.resource.badscopes":      {"Escribe los alcances separados por espacios, sin comillas; account está reservado.", "Enter the scopes separated by spaces, without quotes; account is reserved."},
	"admin.resource.taken":          {"Ese URI ya está registrado.", "That URI is already registered."},
	"origin.cli":                    {"línea de comandos", "command line"},
	"origin.admin":                  {"panel", "admin panel"},
	"origin.developer":              {"desarrollador", "developer"},
	"origin.dynamic":                {"registro dinámico", "dynamic registration"},
	"origin.metadata":               {"documento de metadatos (no registrada)", "metadata document (not registered)"},
	"consent.resources":             {"Solo para usar en:", "Only for use at:"},
	"consent.unregistered":          {"Esta aplicación se identifica con un documento publicado en", "This application identifies itself with a document published at"},
	"consent.unregistered2":         {". No está registrada con el operador de este servicio: autoriza solo si confías en ese sitio.", ". It is not registered with this service's operator: allow only if you trust that site."},
	"error.cimd":                    {"No se pudo usar la descripción que publica esta aplicación (su client_id es una URL). Avisa a quien la desarrolla.", "The description this application publishes (its client_id is a URL) could not be used. Tell its developers."},
	"consent.deny":                  {"Denegar", "Deny"},

	"account.title":        {"Mi cuenta", "My account"},
	"account.profile":      {"Tus datos", "Your details"},
	"account.save":         {"Guardar los cambios", "Save changes"},
	"account.password":     {"Cambiar la contraseña", "Change password"},
	"account.current":      {"Contraseña actual", "Current password"},
	"account.emailcurrent": {"Contraseña actual (solo si cambias el correo)", "Current password (only if you change the email)"},
	"account.new":          {"Contraseña nueva", "New password"},
	"account.change":       {"Cambiar la contraseña", "Change password"},
	"account.saved":        {"Tus datos se guardaron.", "Your details were saved."},
	"account.pwchanged":    {"Tu contraseña se cambió.", "Your password was changed."},
	"account.wrongcurrent": {"La contraseña actual no es correcta. Escríbela de nuevo.", "The current password is not correct. Type it again."},
	"account.taken":        {"Ya existe otra cuenta con ese correo. Usa otro correo.", "Another account already uses that email. Use another email."},

	"account.more":        {"Aplicaciones", "Applications"},
	"account.apps":        {"registra tus aplicaciones y obtén su ID y secreto de cliente.", "register your applications and get their client ID and secret."},
	"account.connections": {"las aplicaciones a las que diste acceso a tu cuenta; retíralo cuando quieras.", "the applications you gave access to your account; take it back at any time."},
	"account.admin":       {"usuarios, aplicaciones y eventos de seguridad.", "users, applications and security events."},

	"apps.title":    {"Mis Aplicaciones", "My applications"},
	"apps.intro":    {"Registra aquí las aplicaciones que usan la API de Multinexo con OAuth 2.0. Cada una recibe un ID de cliente y, si es de servidor web, un secreto de cliente.", "Register here the applications that use the Multinexo API with OAuth 2.0. Each gets a client ID and, for web-server applications, a client secret."},
	"apps.name":     {"Nombre", "Name"},
	"apps.clientid": {"ID de cliente", "Client ID"},
	// Issue 14b: where to point the application, next to its client ID.
	"apps.issuer":               {"Emisor (issuer)", "Issuer"},
	"apps.discovery":            {"URL de descubrimiento", "Discovery URL"},
	"apps.authorize":            {"Endpoint de autorización", "Authorization endpoint"},
	"apps.token":                {"Endpoint de token", "Token endpoint"},
	"apps.endpoints.hint":       {"Las bibliotecas de OpenID Connect solo necesitan el emisor: leen lo demás de la URL de descubrimiento.", "OpenID Connect libraries need only the issuer: they read the rest from the discovery URL."},
	"apps.type":                 {"Tipo", "Type"},
	"apps.redirects":            {"URI de redirección", "Redirect URIs"},
	"apps.redirects.hint":       {"Una por línea. Deben coincidir exactamente con el redirect_uri que envíe tu aplicación; https, o http solo para 127.0.0.1, [::1] o localhost.", "One per line. They must match exactly the redirect_uri your application sends; https, or http only for 127.0.0.1, [::1] or localhost."},
	"apps.created":              {"Creada", "Created"},
	"apps.none":                 {"Todavía no hay aplicaciones.", "No applications yet."},
	"apps.add":                  {"Agregar una aplicación", "Add an application"},
	"apps.save":                 {"Crear la aplicación", "Create the application"},
	"apps.edit":                 {"Editar la aplicación", "Edit the application"},
	"apps.saved":                {"Los cambios se guardaron.", "The changes were saved."},
	"apps.deleted":              {"La aplicación se eliminó y todos sus tokens dejaron de funcionar.", "The application was deleted and all its tokens stopped working."},
	"apps.secret":               {"Secreto de cliente", "Client secret"},
	"apps.secret.hidden":        {"Se mostró una sola vez al crearlo. Si lo perdiste, genera uno nuevo.", "It was shown once, when created. If you lost it, generate a new one."},
	"apps.secret.none":          {"No tiene (aplicación pública: usa PKCE).", "None (public application: use PKCE)."},
	"apps.grants":               {"Flujos permitidos", "Allowed grants"},
	"apps.scopes":               {"Alcances", "Scopes"},
	"apps.state":                {"Estado", "Status"},
	"apps.disabled":             {"deshabilitada", "disabled"},
	"apps.manage":               {"Secreto de cliente y eliminación", "Secret and deletion"},
	"apps.rotate":               {"Generar un secreto de cliente nuevo", "Generate a new client secret"},
	"apps.rotate.confirm":       {"El secreto de cliente actual dejará de funcionar en este mismo momento. Tu aplicación no podrá obtener tokens hasta que configures el nuevo, que verás una sola vez.", "The current secret will stop working right now. Your application will not get tokens until you configure the new one, which you will see only once."},
	"apps.delete":               {"Eliminar la aplicación", "Delete the application"},
	"apps.delete.confirm":       {"Se eliminará la aplicación y todos los tokens que tiene dejarán de funcionar en este mismo momento. No se puede deshacer.", "The application will be deleted and every token it holds will stop working right now. This cannot be undone."},
	"apps.nosecret":             {"Esta aplicación es pública y no tiene secreto de cliente.", "This application is public and has no client secret."},
	"apptype.confidential":      {"Servidor web (con secreto de cliente)", "Web server (with a client secret)"},
	"apptype.confidential.hint": {"Tu servidor guarda el secreto de cliente y lo envía al pedir tokens.", "Your server keeps the secret and sends it when asking for tokens."},
	"apptype.public":            {"JavaScript o aplicación instalada (sin secreto de cliente)", "JavaScript or installed application (no secret)"},
	"apptype.public.hint":       {"No puede guardar un secreto de cliente: usa PKCE.", "It cannot keep a secret: it uses PKCE."},
	"apps.idalg":                {"Firma de los ID tokens", "ID-token signature"},
	"apps.idalg.default":        {"Predeterminada del servidor (RS256: la que esperan todas las bibliotecas OpenID Connect)", "Server default (RS256: what every OpenID Connect library expects)"},
	"apps.idalg.ES256":          {"ES256 (unas 27 veces más barata de firmar; tu biblioteca debe aceptarla)", "ES256 (about 27 times cheaper to sign; your library must accept it)"},
	"apps.idalg.RS256":          {"RS256", "RS256"},
	"apps.idalg.hint":           {"Es el id_token_signed_response_alg de OpenID Connect. Elige ES256 solo si tu biblioteca está configurada para aceptarlo.", "This is OpenID Connect's id_token_signed_response_alg. Choose ES256 only if your library is set up to accept it."},

	"secret.title":   {"Credenciales de la aplicación", "Application credentials"},
	"secret.created": {"Aplicación creada", "Application created"},
	"secret.rotated": {"Secreto de cliente nuevo", "New client secret"},
	"secret.copy":    {"Copiar", "Copy"},
	"secret.copied":  {"Copiado", "Copied"},
	"secret.once":    {"Copia el secreto de cliente ahora y guárdalo en un lugar seguro: es la única vez que lo verás. Multinexo solo guarda una huella que no permite recuperarlo.", "Copy the client secret now and keep it somewhere safe: this is the only time you will see it. Multinexo keeps only a fingerprint that cannot recover it."},
	"secret.oldgone": {"El secreto de cliente anterior ya no funciona.", "The previous secret no longer works."},
	"secret.public":  {"Es una aplicación pública: no tiene secreto de cliente. Usa el ID de cliente con PKCE (code_challenge_method=S256).", "This is a public application: it has no secret. Use the client ID with PKCE (code_challenge_method=S256)."},
	"secret.done":    {"Ya lo guardé, continuar", "I saved it, continue"},
	"confirm.cancel": {"Cancelar", "Cancel"},

	"conn.title":   {"Aplicaciones conectadas", "Connected applications"},
	"conn.intro":   {"Estas aplicaciones pueden acceder a tu cuenta de Multinexo. Si revocas el acceso, sus tokens dejan de funcionar en este momento y la próxima vez te pedirán permiso de nuevo.", "These applications can access your Multinexo account. If you revoke access, their tokens stop working right now and next time they will ask for your permission again."},
	"conn.none":    {"Ninguna aplicación tiene acceso a tu cuenta.", "No application has access to your account."},
	"conn.revoke":  {"Revocar el acceso", "Revoke access"},
	"conn.revoked": {"Se revocó el acceso. Los tokens de esa aplicación ya no funcionan.", "Access was revoked. That application's tokens no longer work."},
	"conn.first":   {"Autorizada el", "Authorized on"},
	// Issue 14b: revoking asks first and names the application.
	"conn.revoke.confirm": {"{app} dejará de acceder a tu cuenta: sus tokens dejarán de funcionar en este mismo momento y, si vuelves a usarla, te pedirá permiso de nuevo.", "{app} will no longer access your account: its tokens stop working right now and, if you use it again, it will ask for your permission again."},
	"conn.revoked.app":    {"Se revocó el acceso de {app}. Sus tokens ya no funcionan.", "Access of {app} was revoked. Its tokens no longer work."},
	"conn.last":           {"último uso", "last used"},

	"admin.title":             {"Administración", "Administration"},
	"admin.users":             {"Usuarios", "Users"},
	"admin.user":              {"Usuario", "User"},
	"admin.clients":           {"Aplicaciones", "Applications"},
	"admin.client":            {"Aplicación", "Application"},
	"admin.events":            {"Eventos de seguridad", "Security events"},
	"admin.search":            {"Buscar usuarios", "Search users"},
	"admin.searchin":          {"Buscar en", "Search in"},
	"admin.searchapps":        {"Buscar aplicaciones por nombre", "Search applications by name"},
	"admin.searchbtn":         {"Buscar", "Search"},
	"admin.total":             {"Total", "Total"},
	"admin.name":              {"Nombre", "Name"},
	"admin.role":              {"Rol", "Role"},
	"admin.state.active":      {"activo", "active"},
	"admin.state.disabled":    {"deshabilitado", "disabled"},
	"admin.nousers":           {"Ningún usuario coincide con la búsqueda.", "No user matches the search."},
	"admin.grants":            {"Aplicaciones autorizadas", "Authorized applications"},
	"admin.nogrants":          {"Ninguna aplicación tiene acceso a esta cuenta.", "No application has access to this account."},
	"admin.noevents":          {"No hay eventos.", "No events."},
	"admin.allevents":         {"Ver todos sus eventos", "See all their events"},
	"admin.disable":           {"Deshabilitar la cuenta", "Disable the account"},
	"admin.disable.confirm":   {"La persona no podrá iniciar sesión, sus sesiones se cerrarán y todas las autorizaciones y tokens de su cuenta dejarán de funcionar en este mismo momento.", "The person will not be able to sign in, their sessions will end and every authorization and token of the account will stop working right now."},
	"admin.disableself":       {"No puedes deshabilitar tu propia cuenta.", "You cannot disable your own account."},
	"admin.enable":            {"Habilitar", "Enable"},
	"admin.disableapp":        {"Deshabilitar", "Disable"},
	"admin.user.disabled":     {"La cuenta se deshabilitó y todos sus tokens dejaron de funcionar.", "The account was disabled and all its tokens stopped working."},
	"admin.user.enabled":      {"La cuenta se habilitó de nuevo.", "The account was enabled again."},
	"admin.client.disabled":   {"La aplicación se deshabilitó: ya no puede obtener tokens.", "The application was disabled: it can no longer get tokens."},
	"admin.client.enabled":    {"La aplicación se habilitó de nuevo.", "The application was enabled again."},
	"admin.client.firstparty": {"La aplicación es ahora de primera parte: puede recibir el alcance account si lo pide.", "The application is now first party: it may be granted the scope account if it asks."},
	"admin.client.thirdparty": {"La aplicación ya no es de primera parte: sus tokens con el alcance account dejaron de servir para administrar cuentas.", "The application is no longer first party: its tokens with the scope account no longer manage accounts."},
	"admin.firstparty":        {"Primera parte", "First party"},
	"admin.firstparty.field":  {"Aplicación de primera parte (propia del operador)", "First-party application (the operator's own)"},
	"admin.firstparty.hint":   {"Solo ellas pueden recibir el alcance account: cambiar o eliminar la cuenta de la persona y gestionar sus aplicaciones y conexiones. Las que usan el grant password lo son siempre. Nunca la marques para una aplicación de otro desarrollador.", "Only these may be granted the scope account: change or delete the person's account and manage their applications and connections. Those with the password grant always are. Never tick it for another developer's application."},
	"admin.markfirst":         {"Marcar de primera parte", "Mark first party"},
	"admin.markthird":         {"Quitar primera parte", "Unmark first party"},
	"admin.client.nogrant":    {"Marca al menos un tipo de concesión.", "Tick at least one grant type."},
	"admin.client.noscope":    {"Marca al menos un alcance.", "Tick at least one scope."},
	"admin.owner":             {"Autor", "Owner"},
	"admin.operator":          {"operador", "operator"},
	"admin.clienttype":        {"Tipo de cliente (client type)", "Client type"},
	"admin.granttype":         {"Tipo de concesión (authorization grant type)", "Authorization grant type"},
	"admin.redirects.hint":    {"Una por línea; obligatorias con authorization_code.", "One per line; required with authorization_code."},
	"admin.postlogout":        {"URI de regreso tras cerrar sesión (opcional)", "Post-logout redirect URIs (optional)"},
	"admin.eventtype":         {"Tipo de evento", "Event type"},
	"admin.filter":            {"Filtrar", "Filter"},
	"admin.foruser":           {"del usuario", "of user"},
	"admin.clearfilter":       {"quitar el filtro", "clear the filter"},
	"admin.when":              {"Fecha", "When"},
	"admin.detail":            {"Detalle", "Detail"},
	"field.email":             {"correo", "email"},
	"field.first_name":        {"nombre", "first name"},
	"field.last_name":         {"apellido", "last name"},

	"grant.authorization_code":                           {"Código de autorización (Authorization code)", "Authorization code"},
	"grant.refresh_token":                                {"Token de actualización (Refresh token)", "Refresh token"},
	"grant.password":                                     {"Contraseña del usuario (Resource owner password-based)", "Resource owner password-based"},
	"grant.client_credentials":                           {"Credenciales del cliente (Client credentials)", "Client credentials"},
	"grant.urn:ietf:params:oauth:grant-type:device_code": {"Código de dispositivo (Device code)", "Device code"},

	"logout.title":     {"Cerrar sesión", "Sign out"},
	"logout.confirm":   {"¿Quieres cerrar tu sesión de Multinexo en este navegador?", "Do you want to sign out of Multinexo in this browser?"},
	"logout.submit":    {"Cerrar sesión", "Sign out"},
	"logout.done":      {"Sesión cerrada", "Signed out"},
	"logout.donetext":  {"Cerraste tu sesión de Multinexo en este navegador. Ya puedes cerrar esta ventana.", "You signed out of Multinexo in this browser. You can close this window now."},
	"logout.nosession": {"No tienes una sesión abierta en este navegador.", "You are not signed in in this browser."},
	"logout.again":     {"Iniciar sesión de nuevo", "Sign in again"},

	"mfa.title":           {"Verificación en dos pasos", "Two-step verification"},
	"mfa.intro":           {"Además de tu contraseña, al iniciar sesión te pediremos un código de 6 cifras que genera una aplicación de autenticación en tu teléfono (Google Authenticator, Microsoft Authenticator, Aegis, 1Password…). Así, aunque alguien averigüe tu contraseña, no podrá entrar.", "Besides your password, signing in will ask for a 6-digit code made by an authenticator app on your phone (Google Authenticator, Microsoft Authenticator, Aegis, 1Password…). Even if someone learns your password, they cannot get in."},
	"mfa.off":             {"La verificación en dos pasos está desactivada.", "Two-step verification is off."},
	"mfa.on":              {"La verificación en dos pasos está activada.", "Two-step verification is on."},
	"mfa.setup":           {"Activar la verificación en dos pasos", "Turn on two-step verification"},
	"mfa.manage":          {"Gestionar la verificación en dos pasos", "Manage two-step verification"},
	"mfa.start":           {"Empezar", "Start"},
	"mfa.step1":           {"Instala una aplicación de autenticación en tu teléfono, si aún no tienes una.", "Install an authenticator app on your phone, if you do not have one yet."},
	"mfa.step2":           {"En la aplicación, elige añadir una cuenta y escanea este código QR.", "In the app, choose to add an account and scan this QR code."},
	"mfa.qralt":           {"Código QR para la aplicación de autenticación", "QR code for the authenticator app"},
	"mfa.manual":          {"¿No puedes escanearlo? Escribe esta clave en la aplicación:", "Cannot scan it? Type this key into the app:"},
	"mfa.manualparams":    {"Tipo: basada en el tiempo (TOTP), 6 dígitos, cada 30 segundos.", "Type: time-based (TOTP), 6 digits, every 30 seconds."},
	"mfa.openapp":         {"O ábrela directamente en este dispositivo", "Or open it directly on this device"},
	"mfa.step3":           {"Escribe el código que muestra ahora la aplicación para comprobar que todo funciona.", "Type the code the app shows now to check that everything works."},
	"mfa.code6":           {"Código de 6 cifras", "6-digit code"},
	"mfa.activate":        {"Activar", "Turn on"},
	"mfa.setup.invalid":   {"Ese código no es correcto. Comprueba que la hora de tu teléfono es la correcta y escribe el código que se muestra ahora.", "That code is not right. Check that your phone's clock is right and type the code it shows now."},
	"mfa.setup.stale":     {"Esta configuración caducó o la empezaste de nuevo en otra pestaña. Empieza otra vez.", "This setup expired or you started it again in another tab. Start again."},
	"mfa.enabled":         {"La verificación en dos pasos está activada. La próxima vez que inicies sesión te pediremos un código.", "Two-step verification is on. Next time you sign in we will ask for a code."},
	"mfa.disabled":        {"La verificación en dos pasos se desactivó. Ahora solo necesitas tu contraseña para entrar.", "Two-step verification was turned off. Now you only need your password to sign in."},
	"mfa.codesleft":       {"Códigos de recuperación sin usar:", "Unused recovery codes:"},
	"mfa.codeslow":        {"Te quedan pocos: genera otros nuevos.", "You have few left: make new ones."},
	"mfa.newcodes":        {"Códigos de recuperación", "Recovery codes"},
	"mfa.newcodes.intro":  {"Si pierdes el teléfono, puedes entrar con un código de recuperación. Para generar otros diez (los anteriores dejarán de funcionar), escribe un código de la aplicación.", "If you lose your phone, you can sign in with a recovery code. To make ten new ones (the old ones stop working), type a code from the app."},
	"mfa.newcodes.submit": {"Generar códigos nuevos", "Make new codes"},
	"mfa.disable":         {"Desactivar", "Turn off"},
	"mfa.disable.intro":   {"Para desactivar la verificación en dos pasos, escribe tu contraseña y un código de la aplicación (o un código de recuperación).", "To turn off two-step verification, type your password and a code from the app (or a recovery code)."},
	"mfa.disable.submit":  {"Desactivar la verificación en dos pasos", "Turn off two-step verification"},
	"mfa.back":            {"Volver a Mi cuenta", "Back to My account"},
	"mfa.codes.title":     {"Guarda tus códigos de recuperación", "Save your recovery codes"},
	"mfa.codes.intro":     {"Si pierdes el teléfono o no tienes la aplicación a mano, escribe uno de estos códigos en lugar del código de 6 cifras. Cada código sirve una sola vez.", "If you lose your phone or do not have the app at hand, type one of these codes instead of the 6-digit code. Each code works once."},
	"mfa.codes.once":      {"Esta es la única vez que los verás. Guárdalos ahora en un lugar seguro (un gestor de contraseñas o papel impreso).", "This is the only time you will see them. Save them now somewhere safe (a password manager or a printout)."},
	"mfa.codes.done":      {"Ya los guardé", "I have saved them"},
	"mfa.code":            {"Código de la aplicación o de recuperación", "Code from the app, or a recovery code"},
	"mfa.verify.title":    {"Verificación en dos pasos", "Two-step verification"},
	"mfa.verify.intro":    {"Abre tu aplicación de autenticación y escribe el código de 6 cifras que muestra para Multinexo.", "Open your authenticator app and type the 6-digit code it shows for Multinexo."},
	"mfa.verify.submit":   {"Verificar", "Verify"},
	"mfa.verify.recovery": {"¿No tienes el teléfono? Escribe uno de tus códigos de recuperación.", "No phone at hand? Type one of your recovery codes."},
	"mfa.verify.restart":  {"Iniciar sesión con otra cuenta", "Sign in with another account"},
	"mfa.verify.expired":  {"Pasó demasiado tiempo desde que escribiste tu contraseña. Escríbela de nuevo.", "Too much time passed since you typed your password. Type it again."},
	"mfa.required":        {"Escribe el código de 6 cifras de tu aplicación o un código de recuperación.", "Type the 6-digit code from your app or a recovery code."},
	"mfa.invalid":         {"Ese código no es correcto o ya se usó. Espera a que la aplicación muestre un código nuevo y escríbelo.", "That code is not right or was already used. Wait for the app to show a new code and type it."},

	"passkey.title":         {"Llaves de acceso", "Passkeys"},
	"passkey.what":          {"Una llave de acceso te permite iniciar sesión sin contraseña: la guarda tu teléfono, tu ordenador o una llave de seguridad, y la desbloqueas con tu huella, tu cara o tu PIN.", "A passkey lets you sign in without a password: your phone, computer or security key keeps it, and you unlock it with your fingerprint, face or PIN."},
	"passkey.login":         {"Iniciar sesión con una llave de acceso", "Sign in with a passkey"},
	"passkey.verify":        {"Usar una llave de acceso en lugar del código", "Use a passkey instead of the code"},
	"passkey.add":           {"Añadir una llave de acceso", "Add a passkey"},
	"passkey.newname":       {"Nombre de la nueva llave (opcional, por ejemplo «Mi teléfono»)", "Name of the new passkey (optional, for example “My phone”)"},
	"passkey.name":          {"Nombre", "Name"},
	"passkey.rename":        {"Cambiar el nombre", "Rename"},
	"passkey.rename.submit": {"Guardar el nombre", "Save the name"},
	"passkey.delete":        {"Borrar", "Delete"},
	"passkey.created":       {"Creada el", "Created"},
	"passkey.lastused":      {"último uso:", "last used:"},
	"passkey.never":         {"nunca", "never"},
	"passkey.synced":        {"sincronizada entre tus dispositivos", "synced across your devices"},
	"passkey.empty":         {"Todavía no tienes ninguna llave de acceso.", "You have no passkeys yet."},
	"passkey.added":         {"Llave de acceso añadida. La próxima vez puedes iniciar sesión con ella.", "Passkey added. Next time you can sign in with it."},
	"passkey.renamed":       {"Nombre guardado.", "Name saved."},
	"passkey.deleted":       {"Llave de acceso borrada: ya no sirve para iniciar sesión aquí. Si no la quieres, bórrala también de tu dispositivo.", "Passkey deleted: it no longer signs you in here. If you do not want it, delete it from your device too."},
	"passkey.cancelled":     {"No se usó ninguna llave de acceso: cancelaste, pasó el tiempo o este dispositivo no tiene una para esta cuenta. Vuelve a intentarlo o inicia sesión con tu correo y contraseña.", "No passkey was used: you cancelled, the time ran out, or this device has none for this account. Try again, or sign in with your email and password."},
	"passkey.unsupported":   {"Este navegador no admite llaves de acceso. Inicia sesión con tu correo y contraseña.", "This browser does not support passkeys. Sign in with your email and password."},
	"passkey.failed":        {"No se pudo usar la llave de acceso. Vuelve a intentarlo.", "The passkey could not be used. Try again."},
	"passkey.expired":       {"La solicitud caducó o se abrió en otra ventana. Vuelve a intentarlo.", "The request expired or was opened in another window. Try again."},
	"passkey.unknown":       {"Esta llave de acceso no está registrada aquí (quizá la borraste de tu cuenta). Inicia sesión con tu correo y contraseña, o usa otra llave.", "This passkey is not registered here (perhaps you deleted it from your account). Sign in with your email and password, or use another passkey."},
	"passkey.refused":       {"No pudimos verificar la llave de acceso. Vuelve a intentarlo; si se repite, inicia sesión con tu correo y contraseña.", "We could not verify the passkey. Try again; if it happens again, sign in with your email and password."},
	"passkey.cloned":        {"Por seguridad no aceptamos esta llave de acceso: parece copiada. Inicia sesión con tu correo y contraseña y revisa tus llaves en Mi cuenta.", "For your security this passkey was not accepted: it looks copied. Sign in with your email and password and check your passkeys in My account."},
	"passkey.exists":        {"Este dispositivo ya guarda una llave de acceso para tu cuenta: puedes usarla para iniciar sesión.", "This device already keeps a passkey for your account: you can sign in with it."},
	"passkey.taken":         {"Esa llave de acceso ya está registrada.", "That passkey is registered already."},
	"passkey.none":          {"Esa llave de acceso no está en tu cuenta. Recarga la página.", "That passkey is not on your account. Reload the page."},
	"passkey.off":           {"Las llaves de acceso no están disponibles en este servidor. Inicia sesión con tu correo y contraseña.", "Passkeys are not available on this server. Sign in with your email and password."},
	"passkey.signedout":     {"Tu sesión terminó. Vuelve a iniciar sesión.", "Your session ended. Sign in again."},
	"passkey.admin.none":    {"No tiene llaves de acceso.", "No passkeys."},
	"passkey.admin.reset":   {"Si la persona perdió sus dispositivos, el comando «multinexo users reset-mfa» quita sus llaves de acceso y su verificación en dos pasos.", "If the person lost their devices, the command “multinexo users reset-mfa” removes their passkeys and second factor."},
	"login.recent":          {"Por seguridad, vuelve a iniciar sesión para continuar.", "For your security, sign in again to continue."},

	"error.title":             {"No se pudo completar la solicitud", "The request could not be completed"},
	"error.unavailable":       {"El servicio no está disponible en este momento. Vuelve a intentarlo en unos segundos.", "The service is unavailable right now. Try again in a few seconds."},
	"error.internal.title":    {"Algo salió mal", "Something went wrong"},
	"error.internal":          {"Ocurrió un error en el servidor. Vuelve a intentarlo en unos minutos; si se repite, comunícate con soporte indicando el código de solicitud.", "A server error occurred. Try again in a few minutes; if it happens again, contact support with the request code."},
	"error.requestid":         {"Código de solicitud", "Request code"},
	"error.back":              {"Vuelve a la aplicación desde la que llegaste e inténtalo de nuevo.", "Go back to the application you came from and try again."},
	"error.crossorigin":       {"El formulario llegó desde otro sitio y se rechazó por seguridad. Abre esta página directamente y vuelve a enviarlo.", "The form came from another site and was refused for security. Open this page directly and send it again."},
	"error.noclient":          {"Falta el identificador de la aplicación (client_id). La aplicación que te trajo aquí está mal configurada: avisa a quien la desarrolla.", "The application identifier (client_id) is missing. The application that sent you here is misconfigured: tell its developer."},
	"error.unknownclient":     {"La aplicación que te trajo aquí no está registrada en Multinexo. Avisa a quien la desarrolla.", "The application that sent you here is not registered with Multinexo. Tell its developer."},
	"error.disabledclient":    {"La aplicación que te trajo aquí está deshabilitada. Avisa a quien la desarrolla.", "The application that sent you here is disabled. Tell its developer."},
	"error.badredirect":       {"La dirección de regreso (redirect_uri) no está registrada para esta aplicación, así que no te enviaremos allí. Avisa a quien desarrolla la aplicación.", "The return address (redirect_uri) is not registered for this application, so we will not send you there. Tell the application's developer."},
	"error.rejecteduri":       {"redirect_uri rechazada", "Rejected redirect_uri"},
	"error.noredirect":        {"La aplicación tiene varias direcciones de regreso y no indicó cuál usar (redirect_uri). Avisa a quien la desarrolla.", "The application has several return addresses and did not say which to use (redirect_uri). Tell its developer."},
	"error.repeated":          {"La solicitud repite client_id o redirect_uri. Avisa a quien desarrolla la aplicación.", "The request repeats client_id or redirect_uri. Tell the application's developer."},
	"error.sessionchanged":    {"La sesión cambió mientras decidías. Vuelve a la aplicación e inténtalo de nuevo.", "Your session changed while you were deciding. Go back to the application and try again."},
	"error.badhint":           {"El cierre de sesión trae un id_token_hint que no es válido. Vuelve a la aplicación e inténtalo de nuevo.", "The sign-out request has an id_token_hint that is not valid. Go back to the application and try again."},
	"error.badlogoutredirect": {"La dirección de regreso tras cerrar sesión (post_logout_redirect_uri) no está registrada para esta aplicación.", "The return address after sign-out (post_logout_redirect_uri) is not registered for this application."},
	"error.badtext":           {"La solicitud contiene caracteres que no son texto válido (UTF-8) o un byte nulo. Vuelve a la página anterior e inténtalo de nuevo.", "The request contains characters that are not valid text (UTF-8) or a NUL byte. Go back to the previous page and try again."},
	"error.notfound":          {"La página que buscas no existe.", "The page you are looking for does not exist."},
	// Issue 14b: every error page has a way back.
	"error.home":           {"Ir a Mi cuenta", "Go to My account"},
	"error.notfound.title": {"Página no encontrada", "Page not found"},
	"error.badrequest":     {"La solicitud no es válida. Vuelve a la página anterior e inténtalo de nuevo.", "The request is not valid. Go back to the previous page and try again."},
}
