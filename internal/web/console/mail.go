package console

import (
	"errors"
	"net/http"

	"github.com/multinexo/auth/internal/account"
	"github.com/multinexo/auth/internal/store"
	"github.com/multinexo/auth/internal/web"
)

// The outbox for operators: each message's state, attempts, next attempt
// and last error. Never a body or a link (store.ListMail reads neither).

type adminMailData struct {
	Messages []*store.OutboxMessage
	Pager    pager
	State    string
	States   []string
}

var mailStates = []string{store.MailQueued, store.MailSending, store.MailRetrying, store.MailSent, store.MailFailed}

func (w *Console) adminMail(rw http.ResponseWriter, r *http.Request) error {
	admin, err := w.admin(rw, r)
	if err != nil || admin == nil {
		return err
	}
	q := r.URL.Query()
	state := cleanSearch(q.Get("state"))
	opt := store.ListOptions{Page: store.Page{Number: pageNumber(r), Size: pageSize}, Sort: "-created_at"}
	if state != "" {
		opt.Filters = append(opt.Filters, store.Filter{Field: "state", Op: "eq", Value: state})
	}
	msgs, total, err := w.cfg.Store.ListMail(r.Context(), opt)
	if err != nil {
		return err
	}
	v := &web.View{Lang: w.Lang(r, ""), Title: "admin.mail", User: admin, Wide: true}
	v.Data = adminMailData{Messages: msgs, State: state, States: mailStates,
		Pager: newPager(web.PathAdmin+"/mail", q, opt.Page.Number, total)}
	w.Render(rw, r, http.StatusOK, "admin_mail", v)
	return nil
}

// adminUserSendReset mails the user a password-reset link, for support
// (as `multinexo users send-reset`).
func (w *Console) adminUserSendReset(rw http.ResponseWriter, r *http.Request) error {
	admin, u, err := w.adminTarget(rw, r, true)
	if err != nil || admin == nil {
		return err
	}
	if err := w.cfg.Accounts.SendReset(r.Context(), u.Email); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, account.ErrMailUnavailable) {
			// Disabled accounts get no link; a server without mail has none.
			return web.PageErr(http.StatusConflict, "admin.user.noreset")
		}
		return err
	}
	w.Event(r, "password_reset.requested", u.ID, "", "by admin "+admin.ID)
	w.Redirect(rw, r, web.PathAdmin+"/users/"+u.ID+"?done=reset")
	return nil
}
