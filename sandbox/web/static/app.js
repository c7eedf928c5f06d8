// The sandbox page: act as a persona in their chats with the bot, as in Telegram.
// Everything from the server is put on the page with textContent / DOM nodes, never as HTML.
"use strict";

const LABELS = {
  vi: {
    persona: "Người dùng", reset: "Làm lại", chats: "Đoạn chat", pick_chat: "Chọn một đoạn chat để bắt đầu",
    replying_to: "Trả lời", start: "BẮT ĐẦU", message: "Nhắn tin…", caption: "Chú thích (không bắt buộc)",
    cancel: "Huỷ", send: "Gửi", bot: "bot", members: "thành viên", typing: "đang nhập…",
    empty_private: "Chưa có tin nhắn. Bấm BẮT ĐẦU (hoặc gõ /start) để bắt đầu.",
    empty_started: "Gõ /menu để mở menu, hoặc bấm nút / bên dưới để xem các lệnh.",
    empty_group: "Nhóm này là hộp thư của công đoàn: các phản ánh mới hiện ở đây.",
    photo: "Ảnh", document: "Tệp", voice: "Tin nhắn thoại", poll: "Bình chọn", sticker: "Nhãn dán",
    contact: "Liên hệ", quiz: "Câu đố", anon_poll: "Bình chọn ẩn danh", votes: "lượt chọn",
    reset_confirm: "Xoá mọi thứ đã làm và quay về dữ liệu mẫu?", resetting: "Đang làm lại…",
    gone: "Tin nhắn này không còn nữa.", you: "Bạn", today: "Hôm nay", reply: "Trả lời",
    joined: "đã tham gia nhóm", left: "đã rời nhóm", deleted: "Đã xoá một tin nhắn",
    hint: {
      worker: "Thử: gõ /report để gửi một phản ánh, /mycases để xem phản ánh của bạn, /quiz để thi.",
      newcomer: "Minh chưa dùng bot: mở đoạn chat và bấm BẮT ĐẦU để xem bước làm quen.",
      grassroots: "Phản ánh của công nhân May Sông Hồng hiện thành thẻ trong nhóm hộp thư của CĐCS.",
      park: "Thẻ về nhà ở, nhà trẻ, và những vụ việc chuyển lên KCN hiện trong nhóm KCN.",
      admin: "Gõ /admin trong đoạn chat riêng để mở trang quản trị.",
    },
  },
  en: {
    persona: "Person", reset: "Reset", chats: "Chats", pick_chat: "Pick a chat to start",
    replying_to: "Reply to", start: "START", message: "Message…", caption: "Caption (optional)",
    cancel: "Cancel", send: "Send", bot: "bot", members: "members", typing: "typing…",
    empty_private: "No messages yet. Press START (or type /start) to begin.",
    empty_started: "Type /menu for the menu, or press the / button below for the commands.",
    empty_group: "This group is a union inbox: new concerns show up here as cards.",
    photo: "Photo", document: "File", voice: "Voice message", poll: "Poll", sticker: "Sticker",
    contact: "Contact", quiz: "Quiz", anon_poll: "Anonymous poll", votes: "votes",
    reset_confirm: "Erase everything done here and go back to the demo data?", resetting: "Resetting…",
    gone: "This message is gone.", you: "You", today: "Today", reply: "Reply",
    joined: "joined the group", left: "left the group", deleted: "A message was deleted",
    hint: {
      worker: "Try: type /report to raise a concern, /mycases to follow it, /quiz to play.",
      newcomer: "Minh has not used the bot yet: open the chat and press START to see onboarding.",
      grassroots: "Concerns from Song Hong Garment workers appear as cards in the grassroots union's inbox group.",
      park: "Housing and childcare cards, and cases moved up to the park union, appear in the KCN group.",
      admin: "Type /admin in the private chat to open the admin hub.",
    },
  },
};

const state = {
  lang: localStorage.getItem("sandbox.lang") || "vi",
  data: null,             // /api/state
  persona: localStorage.getItem("sandbox.persona") || "worker",
  chatId: null,
  messages: new Map(),    // id → message, for the open chat
  unread: new Map(),      // "persona:chat" → messages not seen yet
  replyTo: null,          // message id the next text replies to
  hiddenKeyboards: new Set(),  // "chat:message" one-time keyboards already used
  answeredPrompts: new Set(),  // "chat:message" force-reply prompts already answered (or dismissed)
  pendingUpload: null,
};

const $ = (id) => document.getElementById(id);
const L = (key) => LABELS[state.lang][key] ?? LABELS.vi[key] ?? key;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) node.append(child);
  }
  return node;
}

async function api(path, body) {
  const options = body === undefined ? {} : body instanceof FormData ? { method: "POST", body }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

// ----- text with Telegram's entities -----

const SAFE_URL = /^(https?:|tg:|mailto:)/i;

function entityElement(entity, text) {
  switch (entity.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre", { "data-language": entity.language });
    case "blockquote": case "expandable_blockquote": return el("blockquote");
    case "spoiler": return el("span", { class: "spoiler", onclick: (e) => e.currentTarget.classList.add("shown") });
    case "text_link": return SAFE_URL.test(entity.url || "")
      ? el("a", { href: entity.url, target: "_blank", rel: "noopener noreferrer" }) : el("span");
    case "url": {
      const url = text.slice(entity.offset, entity.offset + entity.length);
      const href = SAFE_URL.test(url) ? url : "https://" + url;
      return el("a", { href, target: "_blank", rel: "noopener noreferrer" });
    }
    case "text_mention": case "mention": return el("span", { class: "mention" });
    case "bot_command": {
      const command = text.slice(entity.offset, entity.offset + entity.length);
      return el("span", { class: "command", onclick: () => sendText(command.split("@")[0]) });
    }
    default: return el("span");
  }
}

// JavaScript strings are UTF-16, like Telegram's offsets: slices line up without conversion.
function renderText(text, entities) {
  const root = el("div", { class: "text" });
  const sorted = (entities || []).slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  const build = (parent, start, end, list) => {
    let position = start;
    let index = 0;
    while (index < list.length) {
      const entity = list[index];
      const from = Math.max(entity.offset, position);
      const to = Math.min(entity.offset + entity.length, end);
      const inner = [];
      let next = index + 1;
      while (next < list.length && list[next].offset < to) inner.push(list[next++]);
      if (from > position) parent.append(text.slice(position, from));
      if (to > from) {
        const node = entityElement(entity, text);
        build(node, from, to, inner);
        parent.append(node);
        position = to;
      }
      index = next;
    }
    if (position < end) parent.append(text.slice(position, end));
  };
  build(root, 0, text.length, sorted);
  return root;
}

// ----- state and chat list -----

function persona() {
  return state.data.personas.find((p) => p.key === state.persona) || state.data.personas[0];
}

function chatTitle(chat) {
  return chat.type === "private" ? state.data.bot.name : chat.title;
}

function colorOf(id) { return "c" + (Math.abs(Number(id)) % 7); }

function initials(name) {
  const words = (name || "?").replace(/[^\p{L}\p{N} ]/gu, " ").trim().split(/\s+/);
  return ((words[0] || "?")[0] + (words.length > 1 ? words[1][0] : "")).toUpperCase();
}

function avatar(node, name, id) {
  node.className = node.className.replace(/\bc\d\b/g, "").trim() + " " + colorOf(id);
  node.textContent = initials(name);
}

function timeOf(unix) {
  return new Date(unix * 1000).toLocaleTimeString(state.lang === "vi" ? "vi-VN" : "en-GB",
    { hour: "2-digit", minute: "2-digit" });
}

function previewText(last) {
  if (!last) return "";
  const kind = last.kind ? L(last.kind) + (last.text ? ": " : "") : "";
  return kind + last.text;
}

async function loadState() {
  state.data = await api("/api/state");
  if (!state.data.personas.some((p) => p.key === state.persona)) state.persona = state.data.personas[0].key;
  renderPersonas();
  renderChatList();
}

function renderPersonas() {
  const select = $("persona");
  select.replaceChildren(...state.data.personas.map((p) =>
    el("option", { value: p.key, selected: p.key === state.persona }, `${p.first_name} · ${p.short[state.lang]}`)));
  const current = persona();
  avatar($("persona-avatar"), current.first_name, current.user_id);
  $("persona-role").textContent = `${current.name} — ${current.role[state.lang]}`;
  $("first-hint").textContent = L("hint")[current.key] || "";
}

function renderChatList() {
  const list = $("chat-list");
  list.replaceChildren(...persona().chats.map((chat) => {
    const title = chatTitle(chat);
    const unread = state.unread.get(`${state.persona}:${chat.id}`) || 0;
    const icon = el("span", { class: "avatar" });
    avatar(icon, title, chat.id);
    return el("li", {
      class: "chat-item" + (chat.id === state.chatId ? " active" : ""), dataset: { chatId: chat.id },
      onclick: () => openChat(chat.id),
    }, icon, el("div", { class: "chat-item-body" },
      el("div", { class: "chat-item-top" }, el("span", { class: "chat-name" }, title),
        el("span", { class: "chat-time" }, chat.last ? timeOf(chat.last.date) : "")),
      el("div", { class: "chat-preview" }, el("span", {}, previewText(chat.last)),
        unread ? el("span", { class: "badge hot" }, String(unread)) : null)));
  }));
}

function currentChat() {
  return persona().chats.find((c) => c.id === state.chatId);
}

async function openChat(chatId) {
  state.chatId = chatId;
  state.unread.delete(`${state.persona}:${chatId}`);
  state.replyTo = null;
  document.body.classList.add("in-chat");
  const chat = currentChat();
  const title = chatTitle(chat);
  $("chat-title").textContent = title;
  avatar($("chat-avatar"), title, chat.id);
  $("chat-status").textContent = chat.type === "private" ? L("bot") : L("members");
  renderChatList();
  const data = await api(`/api/chats/${chatId}/messages?persona=${encodeURIComponent(state.persona)}`);
  if (state.chatId !== chatId) return;
  state.messages = new Map(data.messages.map((m) => [m.message_id, m]));
  renderMessages();
  $("composer-input").focus({ preventScroll: true });
}

function closeChat() {
  state.chatId = null;
  document.body.classList.remove("in-chat");
  renderChatList();
}

// ----- messages -----

function isMine(message) { return message.from && message.from.id === persona().user_id; }

function senderName(message) {
  const from = message.from || {};
  return [from.first_name, from.last_name].filter(Boolean).join(" ");
}

function renderMessages() {
  const box = $("messages");
  const chat = currentChat();
  const nodes = [...state.messages.values()].map(messageNode);
  if (!nodes.length) {
    const hint = chat.type !== "private" ? L("empty_group") : persona().started ? L("empty_started") : L("empty_private");
    nodes.push(el("p", { class: "empty-chat" }, hint));
  }
  box.replaceChildren(...nodes);
  box.scrollTop = box.scrollHeight;
  renderInputArea();
}

function messageNode(message) {
  if (message.new_chat_members || message.left_chat_member) {
    const who = message.new_chat_members ? message.new_chat_members.map((u) => u.first_name).join(", ")
      : message.left_chat_member.first_name;
    return el("div", { class: "service msg", dataset: { id: message.message_id } },
      `${who} ${message.new_chat_members ? L("joined") : L("left")}`);
  }
  const mine = isMine(message);
  const chat = currentChat();
  const bubble = el("div", { class: "bubble" });
  if (!mine && chat.type !== "private") {
    bubble.append(el("div", { class: "sender" + (message.from && message.from.is_bot ? " bot" : "") },
      senderName(message)));
  }
  if (message.reply_to_message) bubble.append(replyQuote(message.reply_to_message));
  appendContent(bubble, message);
  const meta = el("span", { class: "meta" }, (message.edit_date ? "✎ " : "") + timeOf(message.date) +
    (mine ? " ✓✓" : ""));
  const body = bubble.querySelector(".text:last-of-type") || bubble;
  body.append(meta);
  bubble.append(el("button", { class: "reply-action", type: "button", title: L("reply"), "aria-label": L("reply"),
    onclick: () => setReplyTo(message.message_id) }, "↩"));
  const node = el("div", { class: "msg" + (mine ? " out" : " in"), dataset: { id: message.message_id } }, bubble);
  const keyboard = message.reply_markup && message.reply_markup.inline_keyboard;
  if (keyboard) node.append(inlineKeyboard(message, keyboard));
  return node;
}

function replyQuote(quoted) {
  const text = quoted.text || quoted.caption || (quoted.photo ? L("photo") : quoted.document ? L("document") : "");
  return el("div", { class: "reply-quote", onclick: () => flash(quoted.message_id) },
    el("b", {}, isMine(quoted) ? L("you") : senderName(quoted)), el("span", {}, text));
}

function flash(messageId) {
  const node = document.querySelector(`#messages .msg[data-id="${Number(messageId)}"]`);
  if (!node) return;
  node.scrollIntoView({ block: "center", behavior: "smooth" });
  node.classList.remove("flash");
  void node.offsetWidth;
  node.classList.add("flash");
}

function sizeOf(bytes) {
  if (!bytes) return "";
  return bytes > 1048576 ? (bytes / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
}

function appendContent(bubble, message) {
  if (message.photo) {
    const largest = message.photo[message.photo.length - 1];
    bubble.append(el("img", { class: "photo", src: `/api/file/${encodeURIComponent(largest.file_id)}`,
      alt: L("photo") }));
  }
  for (const kind of ["document", "voice", "audio", "video", "animation"]) {
    const file = message[kind];
    if (!file) continue;
    bubble.append(el("a", { class: "doc", href: `/api/file/${encodeURIComponent(file.file_id)}`,
      download: file.file_name || kind },
    el("span", { class: "doc-icon" }, kind === "voice" || kind === "audio" ? "🎤" : "📄"),
    el("span", {}, el("div", { class: "doc-name" }, file.file_name || L(kind === "voice" ? "voice" : "document")),
      el("div", { class: "doc-size" }, sizeOf(file.file_size)))));
  }
  if (message.sticker) bubble.append(el("div", { class: "text", style: "font-size:48px" }, message.sticker.emoji || "🖼"));
  if (message.contact) bubble.append(el("div", { class: "text" }, `👤 ${message.contact.first_name} ${message.contact.phone_number}`));
  if (message.location) bubble.append(el("div", { class: "text" }, `📍 ${message.location.latitude}, ${message.location.longitude}`));
  if (message.poll) bubble.append(pollNode(message));
  if (message.text) bubble.append(renderText(message.text, message.entities));
  if (message.caption) bubble.append(renderText(message.caption, message.caption_entities));
  if (!bubble.querySelector(".text")) bubble.append(el("div", { class: "text" }));
}

function pollNode(message) {
  const poll = message.poll;
  const voted = Array.isArray(message.my_vote) && message.my_vote.length > 0;
  const showResults = voted || poll.is_closed;
  const total = poll.total_voter_count || 0;
  const correct = poll.correct_option_ids || (poll.correct_option_id !== undefined ? [poll.correct_option_id] : []);
  const node = el("div", { class: "poll" },
    el("div", { class: "poll-question" }, renderText(poll.question, poll.question_entities)),
    el("div", { class: "poll-kind" }, poll.type === "quiz" ? L("quiz") : poll.is_anonymous ? L("anon_poll") : L("poll")));
  poll.options.forEach((option, index) => {
    const share = total ? Math.round((option.voter_count * 100) / total) : 0;
    let cls = "poll-option";
    if (showResults && poll.type === "quiz") {
      if (correct.includes(index)) cls += " correct";
      else if (voted && message.my_vote.includes(index)) cls += " wrong";
    }
    const button = el("button", { class: cls, type: "button", disabled: showResults || undefined,
      onclick: () => vote(message, [index]) });
    if (showResults) button.append(el("span", { class: "bar", style: `width:${share}%` }));
    button.append(el("span", {}, (showResults ? `${share}% · ` : "") + option.text +
      (voted && message.my_vote.includes(index) ? " ✓" : "")));
    node.append(button);
  });
  if (showResults) {
    node.append(el("div", { class: "poll-kind" }, `${total} ${L("votes")}`));
    if (poll.explanation && voted) node.append(el("div", { class: "poll-explanation" }, "💡 ",
      renderText(poll.explanation, poll.explanation_entities)));
  }
  return node;
}

function inlineKeyboard(message, rows) {
  return el("div", { class: "inline-kb" }, rows.map((row) => el("div", { class: "kb-row" }, row.map((button) => {
    if (button.url) {
      return el("a", { href: SAFE_URL.test(button.url) ? button.url : "#", target: "_blank",
        rel: "noopener noreferrer" }, button.text + " ↗");
    }
    return el("button", { type: "button", onclick: (e) => press(message, button, e.currentTarget) }, button.text);
  }))));
}

function upsertMessage(message) {
  const known = state.messages.has(message.message_id);
  state.messages.set(message.message_id, message);
  const box = $("messages");
  const node = messageNode(message);
  const old = box.querySelector(`.msg[data-id="${message.message_id}"]`);
  if (old) {
    old.replaceWith(node);
  } else if (!known) {
    box.querySelector(".empty-chat")?.remove();
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 160;
    const later = [...box.querySelectorAll(".msg")].find((n) => Number(n.dataset.id) > message.message_id);
    if (later) box.insertBefore(node, later); else box.append(node);
    if (nearBottom || isMine(message)) box.scrollTop = box.scrollHeight;
  }
  renderInputArea();
}

function removeMessage(messageId) {
  state.messages.delete(messageId);
  $("messages").querySelector(`.msg[data-id="${messageId}"]`)?.remove();
  if (state.replyTo === messageId) state.replyTo = null;
  renderInputArea();
}

// ----- input area: reply keyboard, force reply, start button -----

function keyboardState() {
  // The latest bot message carrying a reply keyboard (or removing one, or asking for a reply) decides.
  const mine = persona().user_id;
  for (const message of [...state.messages.values()].reverse()) {
    const markup = message.reply_keyboard;
    if (!markup || !(message.from && message.from.is_bot)) continue;
    if (markup.selective && currentChat().type !== "private") {
      const addressed = (message.entities || []).some((e) => e.type === "text_mention" && e.user && e.user.id === mine)
        || (message.reply_to_message && message.reply_to_message.from && message.reply_to_message.from.id === mine);
      if (!addressed) continue;
    }
    return { message, markup };
  }
  return null;
}

function renderInputArea() {
  const chat = currentChat();
  const found = keyboardState();
  const keyboardBox = $("reply-keyboard");
  keyboardBox.replaceChildren();
  keyboardBox.hidden = true;
  const input = $("composer-input");
  input.placeholder = L("message");
  if (found && found.markup.keyboard && !state.hiddenKeyboards.has(`${chat.id}:${found.message.message_id}`)) {
    for (const row of found.markup.keyboard) {
      keyboardBox.append(el("div", { class: "kb-row" }, row.map((button) => {
        const label = typeof button === "string" ? button : button.text;
        return el("button", { type: "button", onclick: () => pressReplyKey(found, button) }, label);
      })));
    }
    keyboardBox.hidden = false;
    if (found.markup.input_field_placeholder) input.placeholder = found.markup.input_field_placeholder;
  }
  if (found && found.markup.force_reply && state.replyTo === null
      && !state.answeredPrompts.has(`${chat.id}:${found.message.message_id}`)) {
    state.replyTo = found.message.message_id;
    if (found.markup.input_field_placeholder) input.placeholder = found.markup.input_field_placeholder;
  }
  const replying = state.replyTo !== null && state.messages.has(state.replyTo);
  $("reply-bar").hidden = !replying;
  if (replying) {
    const quoted = state.messages.get(state.replyTo);
    $("reply-preview").textContent = (quoted.text || quoted.caption || L("photo")).slice(0, 120);
  }
  const empty = chat.type === "private" && state.messages.size === 0 && !persona().started;
  $("start-bar").hidden = !empty;
  $("composer").hidden = empty;
}

function setReplyTo(messageId) {
  state.replyTo = messageId;
  renderInputArea();
  $("composer-input").focus();
}

function clearReply() {
  if (state.replyTo !== null) state.answeredPrompts.add(`${state.chatId}:${state.replyTo}`);
  state.replyTo = null;
  renderInputArea();
}

// ----- acting -----

async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    toast(error.message || String(error));
    return null;
  }
}

async function sendText(text) {
  if (!text.trim() || state.chatId === null) return;
  const replyTo = state.replyTo;
  const sent = await guarded(() => api("/api/send", { persona: state.persona, chat: state.chatId, text,
    reply_to: replyTo }));
  if (sent) {
    if (replyTo !== null) clearReply();
    upsertMessage(sent.message);
  }
}

async function pressReplyKey(found, button) {
  if (found.markup.one_time_keyboard) state.hiddenKeyboards.add(`${state.chatId}:${found.message.message_id}`);
  if (typeof button === "object" && button.request_contact) {
    const sent = await guarded(() => api("/api/send", { persona: state.persona, chat: state.chatId,
      text: button.text, contact: true }));
    if (sent) upsertMessage(sent.message);
    return;
  }
  await sendText(typeof button === "string" ? button : button.text);
}

async function press(message, button, node) {
  if (button.callback_data === undefined) return;
  node.disabled = true;
  const result = await guarded(() => api("/api/press", { persona: state.persona, chat: message.chat.id,
    message_id: message.message_id, data: button.callback_data }));
  node.disabled = false;
  const answer = result && result.answer;
  if (answer && answer.text) {
    if (answer.show_alert) showAlert(answer.text); else toast(answer.text);
  }
}

async function vote(message, options) {
  await guarded(() => api("/api/vote", { persona: state.persona, chat: message.chat.id,
    message_id: message.message_id, options }));
  const data = await api(`/api/chats/${message.chat.id}/messages?persona=${encodeURIComponent(state.persona)}`);
  const fresh = data.messages.find((m) => m.message_id === message.message_id);
  if (fresh && state.chatId === message.chat.id) upsertMessage(fresh);
}

function chooseFile(file) {
  if (!file) return;
  state.pendingUpload = file;
  const preview = $("upload-preview");
  if (file.type.startsWith("image/")) {
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  } else {
    preview.hidden = true;
  }
  $("upload-name").textContent = `${file.name} · ${sizeOf(file.size)}`;
  $("upload-caption").value = "";
  $("upload-dialog").hidden = false;
  $("upload-caption").focus();
}

async function sendUpload() {
  const file = state.pendingUpload;
  $("upload-dialog").hidden = true;
  state.pendingUpload = null;
  $("attach-input").value = "";
  if (!file) return;
  const form = new FormData();
  form.append("persona", state.persona);
  form.append("chat", String(state.chatId));
  form.append("caption", $("upload-caption").value);
  form.append("file", file, file.name);
  const sent = await guarded(() => api("/api/upload", form));
  if (sent) upsertMessage(sent.message);
}

function toggleCommands() {
  const menu = $("commands-menu");
  if (!menu.hidden) { menu.hidden = true; return; }
  const commands = state.data.bot.commands[state.lang].length ? state.data.bot.commands[state.lang]
    : state.data.bot.commands.vi;
  menu.replaceChildren(...commands.map((c) => el("button", { type: "button", onclick: () => {
    menu.hidden = true;
    sendText("/" + c.command);
  } }, el("b", {}, "/" + c.command), el("span", {}, c.description))));
  menu.hidden = false;
}

let toastTimer = null;
function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 3000);
}

function showAlert(text) {
  $("alert-text").textContent = text;
  $("alert").hidden = false;
  $("alert-ok").focus();
}

// ----- live updates -----

function onEvent(event) {
  if (event.type === "reset") {
    state.unread.clear();
    state.messages = new Map();
    state.hiddenKeyboards.clear();
    loadState().then(() => (state.chatId !== null ? openChat(state.chatId) : null));
    return;
  }
  if (event.type !== "event" || !event.message) {
    if (event.kind === "chat_action" && event.chat_id === state.chatId) {
      $("chat-status").textContent = L("typing");
      setTimeout(() => { $("chat-status").textContent = currentChat()?.type === "private" ? L("bot") : L("members"); }, 1500);
    }
    return;
  }
  const message = event.message;
  if (event.kind === "sent" || event.kind === "edited") {
    const last = { id: message.message_id, text: (message.text || message.caption || "").slice(0, 80),
      date: message.date, kind: ["photo", "document", "voice", "poll"].find((k) => k in message) || null };
    for (const someone of state.data.personas) {
      const chat = someone.chats.find((c) => c.id === event.chat_id);
      if (!chat) continue;
      if (event.kind === "sent" || (chat.last && chat.last.id === message.message_id)) chat.last = last;
      const open = someone.key === state.persona && chat.id === state.chatId;
      const theirs = message.from && message.from.id === someone.user_id;
      if (event.kind === "sent" && !open && !theirs) {
        const key = `${someone.key}:${chat.id}`;
        state.unread.set(key, (state.unread.get(key) || 0) + 1);
      }
    }
    if (event.chat_id === state.chatId && persona().chats.some((c) => c.id === event.chat_id)) {
      upsertMessage(state.messages.has(message.message_id) && message.poll
        ? { ...message, my_vote: state.messages.get(message.message_id).my_vote } : message);
    }
    renderChatList();
  } else if (event.kind === "deleted" && event.chat_id === state.chatId) {
    removeMessage(message.message_id);
  }
}

function listen() {
  const source = new EventSource("/api/events");
  source.onmessage = (e) => onEvent(JSON.parse(e.data));
  source.onopen = () => {
    if (document.body.dataset.live === "0") {  // back after a break: catch up on what was missed
      loadState().then(() => (state.chatId !== null ? openChat(state.chatId) : null));
    }
    document.body.dataset.live = "1";
  };
  source.onerror = () => { document.body.dataset.live = "0"; };
}

// ----- wiring -----

function applyLanguage() {
  document.documentElement.lang = state.lang;
  $("lang-toggle").textContent = state.lang === "vi" ? "EN" : "VI";
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = L(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = L(node.dataset.i18nPlaceholder);
  if (state.data) {
    renderPersonas();
    renderChatList();
    if (state.chatId !== null) renderMessages();
  }
}

function wire() {
  $("persona").addEventListener("change", (e) => {
    state.persona = e.target.value;
    localStorage.setItem("sandbox.persona", state.persona);
    const keep = persona().chats.some((c) => c.id === state.chatId);
    renderPersonas();
    if (keep && window.matchMedia("(min-width: 721px)").matches) openChat(state.chatId); else closeChat();
  });
  $("lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "vi" ? "en" : "vi";
    localStorage.setItem("sandbox.lang", state.lang);
    applyLanguage();
  });
  $("reset-btn").addEventListener("click", async () => {
    if (!window.confirm(L("reset_confirm"))) return;
    toast(L("resetting"));
    await guarded(() => api("/api/reset", {}));
  });
  $("back-btn").addEventListener("click", closeChat);
  $("start-btn").addEventListener("click", () => sendText("/start"));
  $("reply-cancel").addEventListener("click", clearReply);
  $("commands-btn").addEventListener("click", toggleCommands);
  $("attach-input").addEventListener("change", (e) => chooseFile(e.target.files[0]));
  $("upload-cancel").addEventListener("click", () => { $("upload-dialog").hidden = true; $("attach-input").value = ""; });
  $("upload-send").addEventListener("click", sendUpload);
  $("alert-ok").addEventListener("click", () => { $("alert").hidden = true; });
  const input = $("composer-input");
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    input.value = "";
    input.style.height = "";
    sendText(text);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
  });
  input.addEventListener("input", () => {
    input.style.height = "";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  });
  document.addEventListener("click", (e) => {
    if (!e.target.closest("#commands-menu, #commands-btn")) $("commands-menu").hidden = true;
  });
}

async function main() {
  wire();
  applyLanguage();
  await loadState();
  listen();
  document.body.dataset.ready = "1";
}

main();
