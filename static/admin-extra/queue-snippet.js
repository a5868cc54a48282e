// The queue's snippet in the admin: copy it to the clipboard, and confirm before regenerating the token.
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy-snippet]");
  if (copy) {
    const code = document.getElementById(copy.dataset.copySnippet);
    const copied = copy.parentElement.querySelector(".queue-snippet-copied");
    const showCopied = () => {
      copied.hidden = false;
      setTimeout(() => { copied.hidden = true; }, 2000);
    };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(code.textContent).then(showCopied, () => selectText(code));
    } else {
      // Without a secure context there is no clipboard API: select the text for Ctrl+C instead.
      selectText(code);
    }
    return;
  }
  const confirmed = event.target.closest("[data-confirm]");
  if (confirmed && !window.confirm(confirmed.dataset.confirm)) {
    event.preventDefault();
  }
});

function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}
