package account

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits of the account fields.
const (
	MinPasswordChars = 8    // characters (runes), not bytes
	MaxPasswordBytes = 1024 // bytes of the password as sent; never truncated
	MaxEmailBytes    = 254  // RFC 5321 path limit less the angle brackets
	MaxLocalBytes    = 64   // RFC 5321 §4.5.3.1.1
	MaxNameChars     = 100
)

// ValidationError says which field is wrong and why. Field is the attribute
// name ("email", "password", "first_name", "last_name", "current_password");
// Code is machine-readable ("required", "invalid", "too_short", "too_long",
// "common", "same_as_email", "incorrect"); Detail is the Spanish text for the
// person, saying what to do. Localized gives the text in another language.
type ValidationError struct {
	Field, Code, Detail string
}

func (e *ValidationError) Error() string {
	return "account: " + e.Field + ": " + e.Code
}

// Localized returns the detail in lang ("en" for English; anything else is
// Spanish).
func (e *ValidationError) Localized(lang string) string {
	if lang == "en" {
		if m, ok := messages[e.Field+"/"+e.Code]; ok {
			return m.en
		}
		if m, ok := messages["*/"+e.Code]; ok {
			return m.en
		}
	}
	return e.Detail
}

type message struct{ es, en string }

var messages = map[string]message{
	"email/required":             {"Escribe tu dirección de correo electrónico.", "Enter your email address."},
	"email/invalid":              {"La dirección de correo electrónico no es válida. Escríbela completa, por ejemplo nombre@ejemplo.com, sin espacios.", "The email address is not valid. Enter it in full, for example name@example.com, with no spaces."},
	"email/too_long":             {fmt.Sprintf("La dirección de correo electrónico es demasiado larga: usa una de %d bytes como máximo.", MaxEmailBytes), fmt.Sprintf("The email address is too long: use one of at most %d bytes.", MaxEmailBytes)},
	"email/taken":                {"Ya existe una cuenta con esta dirección de correo electrónico. Inicia sesión o usa otra dirección.", "An account with this email address already exists. Log in or use another address."},
	"password/required":          {"Escribe una contraseña.", "Enter a password."},
	"password/too_short":         {fmt.Sprintf("La contraseña es demasiado corta: usa al menos %d caracteres.", MinPasswordChars), fmt.Sprintf("The password is too short: use at least %d characters.", MinPasswordChars)},
	"password/too_long":          {fmt.Sprintf("La contraseña es demasiado larga: usa como máximo %d bytes.", MaxPasswordBytes), fmt.Sprintf("The password is too long: use at most %d bytes.", MaxPasswordBytes)},
	"password/invalid":           {"La contraseña contiene bytes que no son texto UTF-8 válido. Escríbela de nuevo.", "The password contains bytes that are not valid UTF-8 text. Type it again."},
	"password/common":            {"Esa contraseña es una de las más usadas y fácil de adivinar. Elige otra, por ejemplo una frase de varias palabras.", "That password is one of the most common and easy to guess. Choose another, for example a phrase of several words."},
	"password/same_as_email":     {"La contraseña no puede ser tu dirección de correo electrónico. Elige otra.", "The password cannot be your email address. Choose another."},
	"current_password/required":  {"Para cambiar la contraseña o el correo escribe también tu contraseña actual.", "To change the password or the email also enter your current password."},
	"current_password/incorrect": {"La contraseña actual no es correcta. Escríbela de nuevo.", "The current password is not correct. Type it again."},
	"*/too_long":                 {fmt.Sprintf("El texto es demasiado largo: usa como máximo %d caracteres.", MaxNameChars), fmt.Sprintf("The text is too long: use at most %d characters.", MaxNameChars)},
	"*/invalid":                  {"El texto contiene caracteres de control o no es UTF-8 válido. Escríbelo de nuevo.", "The text contains control characters or is not valid UTF-8. Type it again."},
}

func invalid(field, code string) *ValidationError {
	m, ok := messages[field+"/"+code]
	if !ok {
		m = messages["*/"+code]
	}
	return &ValidationError{Field: field, Code: code, Detail: m.es}
}

var folder = cases.Fold()

// foldKey is the comparison form of a string: NFKC, case folded, NFKC again
// (case folding can leave non-normalised sequences).
func foldKey(s string) string {
	return norm.NFKC.String(folder.String(norm.NFKC.String(s)))
}

// EmailKeyVersion names the form of the keys EmailKey computes; RekeyEmails
// brings the keys of existing rows to it once per store.
const EmailKeyVersion = "email_key:skeleton:1"

// EmailKey is the comparison form of an email address, what must be unique:
// two addresses a person could not tell apart have the same key.
//
//  1. NFKC and full case folding (foldKey): case ("Ana", "ANA"), width
//     (fullwidth "ａｎａ"), compatibility forms, and the dotted capital I
//     U+0130 ("İ" folds to "i" + U+0307).
//  2. NFD, then every combining mark (Unicode category M) and every format
//     character (Cf: zero-width space, joiners, soft hyphen, BOM) dropped:
//     decomposed and precomposed accents alike ("josé", "jose\u0301" and
//     "jose" are one key), and the dot left by U+0130.
//  3. The confusable skeleton of Unicode TS #39 §4 (NFD, each character
//     mapped through confusables.txt, NFD again): Cyrillic "а", Greek "ο",
//     "ｍ" vs "rn"… map to one prototype. The table is the generated map of
//     github.com/mtibben/confusables (confusables.txt 13.0.0, BSD licence):
//     a pure data package with its generator (maketables.go), small enough to
//     read; no maintained alternative exists in the module proxy, and
//     regenerating our own copy would give the same table.
//  4. Marks and format characters dropped again (a prototype may carry one).
//
// The key is only compared, never shown: the address as typed (NFKC) is what
// the person sees and where mail goes. Changing this function changes every
// key: bump EmailKeyVersion so RekeyEmails recomputes stored ones.
func EmailKey(display string) string {
	return dropMarks(confusables.Skeleton(dropMarks(foldKey(display))))
}

// dropMarks decomposes s and removes combining marks and format characters.
func dropMarks(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.In(r, unicode.M, unicode.Cf) {
			return -1
		}
		return r
	}, norm.NFD.String(s))
}

// NormalizeEmail returns the display form of an email address (trimmed,
// NFKC) and its key (EmailKey), which is what must be unique. It
// refuses anything that is not a plausible address: one "@", a non-empty
// local part of at most 64 bytes, a domain with a dot and labels of 1 to 63 bytes, no
// spaces, control characters or the specials ( ) < > [ ] , ; : \ ", at most
// 254 bytes. Errors are *ValidationError for field "email".
func NormalizeEmail(raw string) (display, key string, err error) {
	if !utf8.ValidString(raw) {
		return "", "", invalid("email", "invalid")
	}
	display = norm.NFKC.String(strings.TrimSpace(raw))
	if display == "" {
		return "", "", invalid("email", "required")
	}
	if len(display) > MaxEmailBytes {
		return "", "", invalid("email", "too_long")
	}
	local, domain, ok := strings.Cut(display, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || len(local) > MaxLocalBytes {
		return "", "", invalid("email", "invalid")
	}
	for _, r := range display {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Cf, r) || strings.ContainsRune(`()<>[],;:\"`, r) {
			return "", "", invalid("email", "invalid")
		}
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return "", "", invalid("email", "invalid")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", "", invalid("email", "invalid")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", "", invalid("email", "invalid")
		}
	}
	return display, EmailKey(display), nil
}

//go:embed common-passwords.txt
var commonPasswordsFile string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(commonPasswordsFile, "\n")
	m := make(map[string]struct{}, len(lines))
	for i, l := range lines {
		if i == 0 && strings.HasPrefix(l, "#") {
			continue // the header naming source and licence
		}
		if l = strings.TrimRight(l, "\r"); l != "" {
			m[foldKey(l)] = struct{}{}
		}
	}
	return m
})

// IsCommonPassword reports whether pw is on the embedded list of the most
// common passwords, ignoring case.
func IsCommonPassword(pw string) bool {
	_, ok := commonPasswords()[foldKey(pw)]
	return ok
}

// CheckPassword applies the password policy alone: at least 8 characters,
// at most 1024 bytes, valid UTF-8 (any Unicode), not a common password. It
// returns a *ValidationError for field "password", or nil. Nothing is ever
// truncated: every byte counts when hashing.
func (s *Service) CheckPassword(pw string) error {
	return checkPassword(pw)
}

func checkPassword(pw string) error {
	switch {
	case pw == "":
		return invalid("password", "required")
	case !utf8.ValidString(pw):
		return invalid("password", "invalid")
	case len(pw) > MaxPasswordBytes:
		return invalid("password", "too_long")
	case utf8.RuneCountInString(pw) < MinPasswordChars:
		return invalid("password", "too_short")
	case IsCommonPassword(pw):
		return invalid("password", "common")
	}
	return nil
}

// checkPasswordForEmail adds to the policy that the password is neither the
// email address nor its local part (compared case-insensitively).
func checkPasswordForEmail(pw, email string) error {
	if err := checkPassword(pw); err != nil {
		return err
	}
	if email == "" {
		return nil
	}
	k := foldKey(strings.TrimSpace(pw))
	local, _, _ := strings.Cut(email, "@")
	if k == foldKey(email) || k == foldKey(local) {
		return invalid("password", "same_as_email")
	}
	return nil
}

// cleanName trims and NFC-normalises a person's name and checks it: at most
// 100 characters, no control or format characters.
func cleanName(field, raw string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", invalid(field, "invalid")
	}
	s := norm.NFC.String(strings.TrimSpace(raw))
	if utf8.RuneCountInString(s) > MaxNameChars {
		return "", invalid(field, "too_long")
	}
	for _, r := range s {
		if unicode.IsControl(r) || (unicode.Is(unicode.Cf, r) && r != '\u200d') {
			return "", invalid(field, "invalid")
		}
	}
	return s, nil
}
