// The scripts' own text in the page's language. Every string a script shows is written in Chinese (the source
// language, zh-CN) inside _("…"); pybabel extracts them into the same catalogue as the pages, and base.html puts
// this page's translations into #i18n-messages (none in zh-CN). Values fill %(name)s: _("约 %(n)s 秒", {n: 5}).
const node = document.getElementById("i18n-messages");
const messages = node ? JSON.parse(node.textContent) : {};

export function _(msgid, params) {
  const text = messages[msgid] || msgid;
  return params ? text.replace(/%\((\w+)\)s/g, (whole, name) => (name in params ? String(params[name]) : whole)) : text;
}
