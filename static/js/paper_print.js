// The paper certificate's print button (no inline script under the CSP).
document.getElementById("print-button")?.addEventListener("click", () => window.print());
