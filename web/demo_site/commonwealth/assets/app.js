// The press room's single-page app: the statement arrives as JSON and is written into
// the page here, so a plain fetch of the page sees only "Loading…".
(function () {
  var app = document.getElementById("app");
  fetch(app.dataset.statement)
    .then(function (reply) { return reply.json(); })
    .then(function (statement) {
      var article = document.createElement("article");
      var heading = document.createElement("h1");
      heading.textContent = statement.headline;
      var byline = document.createElement("p");
      byline.className = "byline";
      var when = document.createElement("time");
      when.dateTime = statement.published;
      when.textContent = statement.published_label;
      byline.append(statement.byline + " · ", when);
      article.append(heading, byline);
      statement.paragraphs.forEach(function (text) {
        var paragraph = document.createElement("p");
        paragraph.textContent = text;
        article.append(paragraph);
      });
      app.replaceChildren(article);
      document.title = statement.headline + " | Office of the Secretary of the Commonwealth";
    });
})();
