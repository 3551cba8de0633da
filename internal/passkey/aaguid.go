package passkey

import (
	"strings"

	"github.com/google/uuid"
)

// Known authenticator models by AAGUID, for the account page: a small
// table of the common ones (the public passkey-authenticator AAGUID list
// and the FIDO metadata name the rest; no network look-up is made). An
// AAGUID of zeros (authenticators that do not say) or one not listed has
// no description.
var aaguids = map[string]string{
	"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
	"adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
	"08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
	"9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
	"6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
	"dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain",
	"fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
	"bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
	"d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
	"531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
	"53414d53-554e-4700-0000-000000000000": "Samsung Pass",
	"cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5",
	"ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5 NFC",
	"01020304-0506-0708-0102-030405060708": "Chromium virtual authenticator",
}

// Describe names the authenticator model of aaguid, "" when unknown.
func Describe(aaguid []byte, lang string) string {
	id, err := uuid.FromBytes(aaguid)
	if err != nil || id == uuid.Nil {
		return ""
	}
	name := aaguids[id.String()]
	if name == "Chromium virtual authenticator" && lang != "en" {
		return "Autenticador virtual de Chromium"
	}
	return name
}

// DefaultName is the name of a passkey added without one.
func DefaultName(lang string) string {
	if strings.HasPrefix(lang, "en") {
		return "Passkey"
	}
	return "Llave de acceso"
}
