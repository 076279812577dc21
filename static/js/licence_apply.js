// Apply / replace photo forms: show only the file input of the chosen photo source.
for (const form of document.querySelectorAll("form")) {
  const radios = form.querySelectorAll('input[name="photo_source"]');
  if (!radios.length) continue;
  const update = () => {
    const chosen = form.querySelector('input[name="photo_source"]:checked')?.value;
    for (const field of form.querySelectorAll("[data-source]")) field.hidden = field.dataset.source !== chosen;
  };
  for (const radio of radios) radio.addEventListener("change", update);
  update();
}
