// The terminal takes the keys as soon as the app is up (no first click), and on a phone a row of the keys its
// on-screen keyboard lacks: the app's prefix key, Esc, Tab, ctrl+c and the arrows. A key is sent as the terminal's
// own typed input (xterm.js `input`, which textual.js forwards as the websocket's stdin). The row's buttons never
// take the focus, so the on-screen keyboard stays up; CSS shows the row on touch or narrow screens only and lifts
// the terminal above it.
(() => {
  const KEYS = [
    ["Esc", "\x1b", "escape"], ["Tab", "\t", "tab"], ["^C", "\x03", "ctrl+c"],
    ["←", "\x1b[D", "left"], ["↑", "\x1b[A", "up"], ["↓", "\x1b[B", "down"], ["→", "\x1b[C", "right"],
  ];
  const host = document.getElementById("terminal");
  const terminal = () => (window.textualTerminals || [])[0];
  const open = (t) => t && t.socket && t.socket.readyState === WebSocket.OPEN;

  const send = (data) => {
    const t = terminal();
    if (open(t)) t.terminal.input(data, true);
  };

  const row = document.createElement("div");
  row.id = "clauderon-keys";
  row.setAttribute("role", "toolbar");
  row.setAttribute("aria-label", "Keys");
  const hex = (host && host.dataset.prefixHex) || "";
  const prefix = hex ? [[host.dataset.prefixLabel.replace(/^ctrl\+/, "^"), hex.match(/../g)
    .map((b) => String.fromCharCode(parseInt(b, 16))).join(""), `prefix (${host.dataset.prefixLabel})`]] : [];
  for (const [label, data, name] of [...prefix, ...KEYS]) {
    const button = document.createElement("button");
    button.type = "button";
    button.tabIndex = -1;
    button.textContent = label;
    button.dataset.key = name.startsWith("prefix") ? "prefix" : name;
    button.title = name;
    button.setAttribute("aria-label", name);
    // Keep the focus (and the phone's keyboard) on the terminal: no focus change on press, the key on click.
    button.addEventListener("pointerdown", (event) => event.preventDefault());
    button.addEventListener("mousedown", (event) => event.preventDefault());
    button.addEventListener("click", (event) => {
      event.preventDefault();
      send(data);
      const t = terminal();
      if (t && document.activeElement !== t.terminal.textarea) t.terminal.focus();
    });
    row.append(button);
  }
  document.body.append(row);

  // Once the app's websocket is open: give the terminal the keys, and have xterm.js measure its cells again.
  // Setting the font size again re-measures the cells at the current device pixel ratio: under Chromium's DPR
  // emulation xterm.js (stock textual-serve page too) keeps canvases of the CSS size while drawing at the device
  // scale, a cropped frame (docs/serve.md).
  const settle = () => {
    const t = terminal();
    if (!open(t)) {
      if (!(t && t.socket && t.socket.readyState > WebSocket.OPEN)) setTimeout(settle, 50);  // not once closed
      return;
    }
    const size = Number(t.terminal.options.fontSize) || 16;
    t.terminal.options.fontSize = size + 1;
    t.terminal.options.fontSize = size;
    t.fit();
    t.terminal.focus();
  };
  window.addEventListener("load", () => setTimeout(settle, 0));
  document.fonts && document.fonts.ready.then(() => { if (open(terminal())) settle(); });
})();
