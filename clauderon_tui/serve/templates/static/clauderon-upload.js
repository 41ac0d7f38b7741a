// Images for the agent from the browser: a file picker (the "+ image" button), a paste of an image, a drop onto the
// page. Each goes to POST /upload (this server only, with its cookie); the engine keeps it and the tab's app
// attaches it to the next chat message. Text pastes and drops are left to the terminal.
(() => {
  const KINDS = ["image/png", "image/jpeg", "image/gif", "image/webp"];
  const images = (files) => Array.from(files || []).filter((f) => KINDS.includes(f.type));

  const note = document.createElement("div");
  note.id = "clauderon-upload-note";
  note.hidden = true;
  let hideNote = 0;
  const say = (text) => {
    note.textContent = text;
    note.hidden = false;
    clearTimeout(hideNote);
    hideNote = setTimeout(() => { note.hidden = true; }, 6000);
  };

  const send = async (file) => {
    const name = file.name || "pasted";
    try {
      // same-origin: under the page's no-referrer policy a POST would carry `Origin: null`, which the server refuses.
      const answer = await fetch(`/upload?name=${encodeURIComponent(name)}`, {
        method: "POST", body: file, credentials: "same-origin", referrerPolicy: "same-origin",
        headers: { "Content-Type": file.type || "application/octet-stream" },
      });
      say(answer.ok ? `${name}: sent to the chat` : `${name}: ${(await answer.text()).trim() || answer.status}`);
    } catch (error) {
      say(`${name}: not sent (${error})`);
    }
  };

  const picker = document.createElement("input");
  picker.type = "file";
  picker.id = "clauderon-image-input";
  picker.accept = KINDS.join(",");
  picker.multiple = true;
  picker.hidden = true;
  picker.addEventListener("change", () => { images(picker.files).forEach(send); picker.value = ""; });

  const button = document.createElement("button");
  button.id = "clauderon-attach";
  button.type = "button";
  button.title = "Attach an image to the next chat message";
  button.setAttribute("aria-label", button.title);
  button.textContent = "+ image";
  button.addEventListener("click", () => picker.click());

  document.addEventListener("paste", (event) => {
    const files = images(event.clipboardData && event.clipboardData.files);
    if (files.length) {  // before the terminal sees it: an image is not typed
      event.preventDefault();
      event.stopPropagation();
      files.forEach(send);
    }
  }, true);
  document.addEventListener("dragover", (event) => {
    if (event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    const files = images(event.dataTransfer && event.dataTransfer.files);
    if (files.length) {
      event.preventDefault();
      files.forEach(send);
    }
  });

  document.body.append(picker, button, note);
})();
