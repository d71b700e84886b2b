package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"canopy/auth"
)

// demoCategory is a category with its subtree, to create through the API.
type demoCategory struct {
	name     string
	children []demoCategory
}

func cat(name string, children ...demoCategory) demoCategory { return demoCategory{name, children} }

// demoCategories is a shop's catalogue, four levels deep in places: deeper
// than the front end's first request (depth 2), so some nodes load lazily.
var demoCategories = []demoCategory{
	cat("Electronics",
		cat("Computers",
			cat("Laptops", cat("Gaming laptops"), cat("Ultrabooks"), cat("2-in-1 laptops")),
			cat("Desktops", cat("Workstations"), cat("Mini PCs")),
			cat("Monitors")),
		cat("Phones",
			cat("Smartphones"),
			cat("Accessories", cat("Cases"), cat("Chargers"), cat("Laptop sleeves"))),
		cat("Audio", cat("Headphones"), cat("Speakers"))),
	cat("Home & Garden",
		cat("Kitchen", cat("Cookware"), cat("Small appliances")),
		cat("Furniture", cat("Sofas"), cat("Desks")),
		cat("Garden")),
	cat("Books",
		cat("Fiction", cat("Science fiction"), cat("Mystery")),
		cat("Non-fiction", cat("History"), cat("Science"))),
	cat("Sports",
		cat("Cycling"),
		cat("Running", cat("Running shoes"))),
}

// createCategories stores the forest through the API and returns every
// category's id by name.
func createCategories(t *testing.T, ts *testServer, token string, forest []demoCategory) map[string]int64 {
	t.Helper()
	ids := map[string]int64{}
	var create func(parent *int64, c demoCategory)
	create = func(parent *int64, c demoCategory) {
		body := map[string]any{"name": c.name}
		if parent != nil {
			body["parent_id"] = *parent
		}
		r := ts.do("POST", "/api/v1/categories", body, bearer(token)...)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("creating %s: %d %s", c.name, r.StatusCode, r.Body)
		}
		var n node
		r.decode(t, &n)
		ids[c.name] = n.ID
		for _, child := range c.children {
			create(&n.ID, child)
		}
	}
	for _, c := range forest {
		create(nil, c)
	}
	return ids
}

// item is the CSS selector of the tree item of category id.
func item(id int64) string { return fmt.Sprintf(`[role=tree] li[role=treeitem][data-id="%d"]`, id) }

// childName is the CSS selector of the names of the children the tree shows under category id.
func childName(id int64) string {
	return item(id) + ` > ul[role=group] > li[role=treeitem] > .row .name`
}

// childNames are the names of the children the tree shows under category id.
func (p *browserPage) childNames(id int64) []string {
	p.t.Helper()
	return p.texts(childName(id))
}

func TestBrowserCategories(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	writer := ts.token(auth.ScopeTreesWrite)
	ids := createCategories(t, ts, writer, demoCategories)

	t.Run("the README's picture", func(t *testing.T) {
		// A few levels open, a deep node selected, on the demo data as created.
		p := ts.openPage(t, writer)
		p.visit("categories")
		for _, name := range []string{"Electronics", "Computers", "Laptops", "Home & Garden", "Furniture"} {
			p.click(item(ids[name]) + ` > .row .twisty`)
			p.waitFor(fmt.Sprintf(`document.querySelector(%s)`, jsString(item(ids[name])+` > ul > li[role=treeitem]`)), name+" to open")
		}
		p.click(item(ids["Gaming laptops"]) + ` > .row .name`)
		p.waitFor(`document.querySelector('.details .path .crumbs')`, "the path")
		p.screenshot("categories", "trees")
		p.checkA11y("categories")
		p.checkNarrow("categories")
	})

	p := ts.openPage(t, writer)
	p.visit("categories")

	// The first request holds two levels below the roots.
	p.waitFor(`document.querySelectorAll('[role=tree] > li[role=treeitem]').length === 4`, "the four roots")
	if got := join(p.texts(`[role=tree] > li[role=treeitem] > .row .name`)); got != "Electronics | Home & Garden | Books | Sports" {
		t.Errorf("roots %q", got)
	}
	p.wantTiming("tree")
	if n := p.count(`[role=treeitem][aria-expanded=true]`); n != 0 {
		t.Errorf("%d items expanded at first, want none", n)
	}

	t.Run("expand, and load a cut-off level lazily", func(t *testing.T) {
		p := p.in(t)
		p.click(item(ids["Electronics"]) + ` > .row .twisty`)
		p.waitFor(fmt.Sprintf(`document.querySelector(%s).getAttribute('aria-expanded') === 'true'`, jsString(item(ids["Electronics"]))), "Electronics to expand")
		if got := join(p.childNames(ids["Electronics"])); got != "Computers | Phones | Audio" {
			t.Errorf("Electronics shows %q", got)
		}
		p.click(item(ids["Computers"]) + ` > .row .twisty`)
		if got := join(p.childNames(ids["Computers"])); got != "Laptops | Desktops | Monitors" {
			t.Errorf("Computers shows %q", got)
		}
		// Laptops is at depth 2: the first request cut its children off.
		if p.count(`.status .entry[data-label=subtree]`) != 0 {
			t.Fatal("a subtree was loaded before any cut-off node was opened")
		}
		if got := p.attr(item(ids["Laptops"])+` > .row .count`, "title"); got != "3 children" {
			t.Errorf("Laptops' child count badge: %q", got)
		}
		p.click(item(ids["Laptops"]) + ` > .row .twisty`)
		p.waitFor(fmt.Sprintf(`document.querySelectorAll(%s).length === 3`, jsString(item(ids["Laptops"])+` > ul > li[role=treeitem]`)), "Laptops' children to load")
		if got := join(p.childNames(ids["Laptops"])); got != "Gaming laptops | Ultrabooks | 2-in-1 laptops" {
			t.Errorf("Laptops shows %q", got)
		}
		p.wantTiming("subtree")
		if got := p.attr(item(ids["Gaming laptops"]), "aria-level"); got != "4" {
			t.Errorf("Gaming laptops aria-level %q, want 4", got)
		}
	})

	t.Run("keyboard", func(t *testing.T) {
		p := p.in(t)
		p.click(item(ids["Books"]) + ` > .row .name`)
		if got := p.focused(); got != itoa(ids["Books"]) {
			t.Fatalf("focus on %q after clicking Books", got)
		}
		steps := []struct {
			key, want, why string
		}{
			{kb.ArrowUp, "Home & Garden", "Up moves to the previous item"},
			{kb.ArrowUp, "Audio", "Up enters the open subtree above at its last item"},
			{kb.ArrowLeft, "Electronics", "Left on an item without children goes to the parent"},
			{kb.ArrowRight, "Computers", "Right on an expanded item enters its first child"},
			{kb.ArrowLeft, "Computers", "Left on an expanded item collapses it"},
			{kb.ArrowDown, "Phones", "Down skips collapsed children"},
			{kb.End, "Sports", "End goes to the last item"},
			{kb.ArrowUp, "Books", "Up moves to the previous item"},
			{kb.ArrowRight, "Books", "Right on a collapsed item expands it"},
			{kb.ArrowRight, "Fiction", "then enters it"},
		}
		names := map[string]string{}
		for name, id := range ids {
			names[itoa(id)] = name
		}
		for _, s := range steps {
			p.press(s.key)
			if got := names[p.focused()]; got != s.want {
				t.Fatalf("%s: focus on %q, want %q", s.why, got, s.want)
			}
		}
		if got := p.attr(item(ids["Computers"]), "aria-expanded"); got != "false" {
			t.Errorf("Computers aria-expanded %q after Left", got)
		}
		if got := p.attr(item(ids["Books"]), "aria-expanded"); got != "true" {
			t.Errorf("Books aria-expanded %q after Right", got)
		}
		// Roving tabindex: the focused item is the only tabbable one.
		if got := p.texts(`[role=treeitem][tabindex="0"] > .row .name`); join(got) != "Fiction" {
			t.Errorf("tabbable items %q, want only Fiction", got)
		}
		p.press(kb.Enter)
		p.waitFor(`document.querySelector('.details .node-name')`, "the details of the selection")
		if got := p.text(`.details .node-name`); got != "Fiction" {
			t.Errorf("Enter selected %q", got)
		}
		if got := p.attr(item(ids["Fiction"]), "aria-selected"); got != "true" {
			t.Errorf("Fiction aria-selected %q", got)
		}
		p.waitFor(`document.querySelector('.details .path .crumbs')`, "the path of the selection")
		if got := p.text(`.details .path`); got != "Books › Fiction" {
			t.Errorf("path %q", got)
		}
		p.wantTiming("path")
	})

	t.Run("search highlights matches with their breadcrumbs", func(t *testing.T) {
		p := p.in(t)
		p.typeInto(`input.search`, "lap")
		p.waitFor(`document.querySelectorAll('.matches .match').length === 4`, "four matches")
		if got := p.text(`.matches-head`); got != "4 matches for “lap”" {
			t.Errorf("matches head %q", got)
		}
		want := []string{
			"Electronics › Computers › Laptops",
			"Electronics › Computers › Laptops › Gaming laptops",
			"Electronics › Computers › Laptops › 2-in-1 laptops",
			"Electronics › Phones › Accessories › Laptop sleeves",
		}
		if got := p.texts(`.matches .match`); join(got) != join(want) {
			t.Errorf("matches\n%q\nwant\n%q", got, want)
		}
		// The pruned tree: only the matches and their ancestors.
		if got := join(p.texts(`[role=tree] > li[role=treeitem] > .row .name`)); got != "Electronics" {
			t.Errorf("pruned tree roots %q, want Electronics alone", got)
		}
		if p.count(`[role=tree] [data-id="`+itoa(ids["Ultrabooks"])+`"]`) != 0 {
			t.Error("the pruned tree shows Ultrabooks")
		}
		for _, m := range p.texts(`[role=tree] mark`) {
			if strings.ToLower(m) != "lap" {
				t.Errorf("highlighted %q", m)
			}
		}
		if n := p.count(`[role=tree] mark`); n != 4 {
			t.Errorf("%d highlights in the tree, want 4", n)
		}
		p.wantTiming("search")
		p.click(fmt.Sprintf(`.matches .match[data-id="%d"]`, ids["Gaming laptops"]))
		p.waitFor(`document.querySelector('.details .node-name') && document.querySelector('.details .node-name').innerText === 'Gaming laptops'`, "the match to be selected")
		p.screenshot("categories-search", "")
		p.checkA11y("categories search")

		p.do(chromedp.Focus(chromedp.CSS(`input.search`)))
		p.press(kb.Escape)
		p.waitFor(`document.querySelectorAll('[role=tree] > li[role=treeitem]').length === 4`, "the whole tree back")
	})

	t.Run("a move into its own subtree is refused with the server's message", func(t *testing.T) {
		p := p.in(t)
		p.click(item(ids["Electronics"]) + ` > .row .name`)
		p.waitFor(`[...document.querySelectorAll('.details .actions button')].some((b) => b.innerText === 'Move to…')`, "the actions")
		p.clickButton(`.details .actions button`, "Move to…")
		p.waitFor(`document.querySelector('dialog[open] #move-target')`, "the move dialog")
		p.typeInto(`#move-target`, "Gaming")
		p.waitFor(`document.querySelector('dialog[open] .picks .pick')`, "the picker's search results")
		p.click(fmt.Sprintf(`dialog[open] .picks .pick[data-id="%d"]`, ids["Gaming laptops"]))
		if got := p.text(`dialog[open] .chosen`); !strings.Contains(got, "Gaming laptops") {
			t.Errorf("chosen parent %q", got)
		}
		p.clickButton(`dialog[open] button[type=submit]`, "Move")
		p.waitFor(`document.querySelector('dialog[open] .dialog-errors [role=alert]')`, "the refusal")
		if got := p.text(`dialog[open] .dialog-errors .error-title`); got != "Conflict (409)" {
			t.Errorf("error title %q", got)
		}
		if got := p.text(`dialog[open] .dialog-errors .error-detail`); got != "a node cannot move under itself or one of its descendants" {
			t.Errorf("error detail %q", got)
		}
		p.wantTiming("move")
		p.screenshot("categories-cycle", "")
		p.clickButton(`dialog[open] button`, "Cancel")
		p.waitFor(`!document.querySelector('dialog[open]')`, "the dialog to close")
		var n node
		ts.do("GET", "/api/v1/categories/"+itoa(ids["Electronics"]), nil).decode(t, &n)
		if n.ParentID != nil {
			t.Errorf("Electronics moved under %d", *n.ParentID)
		}
	})

	t.Run("move by id", func(t *testing.T) {
		p := p.in(t)
		p.click(item(ids["Computers"]) + ` > .row .twisty`)
		p.click(item(ids["Monitors"]) + ` > .row .name`)
		p.clickButton(`.details .actions button`, "Move to…")
		p.typeInto(`#move-target`, itoa(ids["Electronics"]))
		p.clickButton(`dialog[open] button[type=submit]`, "Move")
		p.waitFor(`!document.querySelector('dialog[open]')`, "the dialog to close")
		p.waitFor(fmt.Sprintf(`[...document.querySelectorAll(%s)].some((e) => e.innerText === 'Monitors')`,
			jsString(item(ids["Electronics"])+` > ul > li[role=treeitem] > .row .name`)), "Monitors under Electronics")
		if got := join(p.childNames(ids["Computers"])); got != "Laptops | Desktops" {
			t.Errorf("Computers still shows %q", got)
		}
		var n node
		ts.do("GET", "/api/v1/categories/"+itoa(ids["Monitors"]), nil).decode(t, &n)
		if n.ParentID == nil || *n.ParentID != ids["Electronics"] {
			t.Errorf("Monitors' parent %v, want %d", n.ParentID, ids["Electronics"])
		}
	})

	t.Run("add, rename, delete", func(t *testing.T) {
		p := p.in(t)
		p.click(item(ids["Sports"]) + ` > .row .name`)
		p.clickButton(`.details .actions button`, "Add child")
		p.typeInto(`dialog[open] input[name=name]`, "Swimming")
		p.clickButton(`dialog[open] button[type=submit]`, "Add")
		p.waitFor(fmt.Sprintf(`[...document.querySelectorAll(%s)].some((e) => e.innerText === 'Swimming')`,
			jsString(item(ids["Sports"])+` > ul > li[role=treeitem] > .row .name`)), "Swimming under Sports")
		p.waitFor(`document.querySelector('.details .node-name').innerText === 'Swimming'`, "the new category to be selected")

		p.click(item(ids["Home & Garden"]) + ` > .row .twisty`)
		p.click(item(ids["Garden"]) + ` > .row .name`)
		p.clickButton(`.details .actions button`, "Rename")
		p.do(chromedp.SetValue(chromedp.CSS(`dialog[open] input[name=name]`), "Garden & Outdoor"))
		p.clickButton(`dialog[open] button[type=submit]`, "Rename")
		p.waitFor(fmt.Sprintf(`document.querySelector(%s).innerText === 'Garden & Outdoor'`, jsString(item(ids["Garden"])+` > .row .name`)), "the new name")
		// The refresh ends by selecting the renamed category again: a click before that would be undone.
		p.waitFor(`document.querySelector('.details .node-name').innerText === 'Garden & Outdoor'`, "the renamed category to be selected")

		p.click(item(ids["Books"]) + ` > .row .name`)
		p.clickButton(`.details .actions button`, "Delete")
		p.clickButton(`dialog[open] button[type=submit]`, "Delete")
		p.waitFor(`document.querySelector('dialog[open] .dialog-errors [role=alert]')`, "the refusal to delete a parent")
		if got := p.text(`dialog[open] .error-detail`); !strings.Contains(got, "has children") {
			t.Errorf("refusal %q", got)
		}
		p.click(`#delete-cascade`)
		p.clickButton(`dialog[open] button[type=submit]`, "Delete")
		p.waitFor(`!document.querySelector('dialog[open]')`, "the dialog to close")
		p.waitFor(`document.querySelectorAll('[role=tree] > li[role=treeitem]').length === 3`, "Books to go")
		if got := p.text(`.error-slot .notice`); got != "Deleted 7 categories." {
			t.Errorf("notice %q", got)
		}
	})

	t.Run("drag and drop moves a category", func(t *testing.T) {
		p := p.in(t)
		p.waitFor(fmt.Sprintf(`document.querySelector(%s)`, jsString(item(ids["Cycling"]))), "Cycling in view")
		p.do(chromedp.DragAndDrop(chromedp.CSS(item(ids["Cycling"])+` > .row`), chromedp.CSS(item(ids["Running"])+` > .row`)))
		p.waitFor(fmt.Sprintf(`[...document.querySelectorAll(%s)].some((e) => e.innerText === 'Cycling')`,
			jsString(item(ids["Running"])+` > ul > li[role=treeitem] > .row .name`)), "Cycling under Running")
		var n node
		ts.do("GET", "/api/v1/categories/"+itoa(ids["Cycling"]), nil).decode(t, &n)
		if n.ParentID == nil || *n.ParentID != ids["Running"] {
			t.Errorf("Cycling's parent %v, want Running (%d)", n.ParentID, ids["Running"])
		}
	})

	t.Run("without a token the actions are off", func(t *testing.T) {
		anon := ts.openPage(t, "")
		anon.visit("categories")
		anon.waitFor(`document.querySelector('[role=tree] > li[role=treeitem]')`, "the tree")
		anon.click(item(ids["Electronics"]) + ` > .row .name`)
		anon.waitFor(`document.querySelector('.details .actions')`, "the details")
		if n := anon.count(`.details .actions button:not([disabled])`); n != 0 {
			t.Errorf("%d actions enabled without a token", n)
		}
		if got := anon.text(`.details .hint`); !strings.Contains(got, "trees:write") {
			t.Errorf("hint %q", got)
		}
	})

	p.visit("categories")
	p.waitFor(`document.querySelectorAll('[role=tree] > li[role=treeitem]').length === 3`, "the roots")
	p.screenshot("categories-after-edits", "")
}

// clickButton clicks the first element matching selector whose text is label.
func (p *browserPage) clickButton(selector, label string) {
	p.t.Helper()
	find := fmt.Sprintf(`[...document.querySelectorAll(%s)].find((b) => b.innerText.trim() === %s && !b.disabled)`, jsString(selector), jsString(label))
	p.waitFor(find, "a button "+label)
	p.eval(find + `.setAttribute('data-click', '1')`)
	p.click(`[data-click="1"]`)
	p.eval(`document.querySelectorAll('[data-click]').forEach((e) => e.removeAttribute('data-click'))`)
}

func TestBrowserCategoriesLive(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	writer := ts.token(auth.ScopeTreesWrite)
	ids := createCategories(t, ts, writer, demoCategories)

	// A reader with no token, on Computers, with Electronics and Phones open.
	p := ts.openPage(t, "")
	p.visit("categories")
	for _, name := range []string{"Electronics", "Phones"} {
		p.click(item(ids[name]) + ` > .row .twisty`)
		p.waitFor(fmt.Sprintf(`document.querySelector(%s)`, jsString(item(ids[name])+` > ul > li[role=treeitem]`)), name+" to open")
	}
	p.click(item(ids["Computers"]) + ` > .row .name`)
	p.waitFor(`document.querySelector('.details .path .crumbs')`, "Computers' path")

	t.Run("another writer's new category appears", func(t *testing.T) {
		p := p.in(t)
		r := ts.do("POST", "/api/v1/categories", map[string]any{"name": "Tablets", "parent_id": ids["Electronics"]}, bearer(writer)...)
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("creating Tablets: %d %s", r.StatusCode, r.Body)
		}
		p.waitFor(fmt.Sprintf(`document.querySelectorAll(%s).length === 4`, jsString(childName(ids["Electronics"]))), "Tablets under Electronics")
		if got := join(p.childNames(ids["Electronics"])); got != "Computers | Phones | Audio | Tablets" {
			t.Errorf("Electronics' children %q", got)
		}
		if got := join(p.childNames(ids["Phones"])); got != "Smartphones | Accessories" {
			t.Errorf("Phones, which was open, shows %q", got)
		}
		if got := p.attr(item(ids["Computers"]), "aria-selected"); got != "true" {
			t.Errorf("Computers' aria-selected %q after the reload", got)
		}
	})

	t.Run("a rename shows in the tree and the selection's details", func(t *testing.T) {
		p := p.in(t)
		r := ts.do("PATCH", fmt.Sprintf("/api/v1/categories/%d", ids["Computers"]), map[string]any{"name": "Computers & tablets"}, bearer(writer)...)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("renaming Computers: %d %s", r.StatusCode, r.Body)
		}
		p.waitFor(`document.querySelector('.details .node-name').innerText === 'Computers & tablets'`, "the details to follow the rename")
		if got := p.text(item(ids["Computers"]) + ` > .row .name`); got != "Computers & tablets" {
			t.Errorf("the tree shows %q", got)
		}
	})
}
