package seed

import "strings"

// categoryTaxonomy is a shop's category forest: one root per line, then its
// subcategories separated by ";", each with its leaves in parentheses.
const categoryTaxonomy = `
Electronics: Computers (Laptops, Desktops, Monitors, Keyboards, Mice, Printers); Phones (Smartphones, Cases, Chargers, Screen Protectors); Audio (Headphones, Earbuds, Speakers, Soundbars, Turntables); Cameras (Mirrorless, Action Cameras, Lenses, Tripods, Memory Cards); TV & Video (Televisions, Projectors, Streaming Devices, Cables)
Home & Kitchen: Cookware (Frying Pans, Saucepans, Dutch Ovens, Woks); Small Appliances (Coffee Makers, Kettles, Toasters, Blenders, Rice Cookers, Air Fryers); Tableware (Plates, Bowls, Glasses, Cutlery); Bedding (Duvets, Pillows, Sheets, Blankets); Storage (Food Containers, Baskets, Shelving, Closet Organisers)
Books: Fiction (Literary Fiction, Crime, Science Fiction, Fantasy, Romance, Historical Fiction); Non-fiction (Biography, History, Science, Politics, Travel Writing); Children's Books (Picture Books, Early Readers, Middle Grade, Young Adult); Comics & Graphic Novels (Manga, Superheroes, Graphic Memoirs); Reference (Dictionaries, Atlases, Encyclopaedias)
Fashion: Women's Clothing (Dresses, Tops, Jeans, Coats, Knitwear); Men's Clothing (Shirts, Trousers, Suits, Jackets, T-shirts); Shoes (Trainers, Boots, Sandals, Formal Shoes); Accessories (Bags, Belts, Hats, Scarves, Sunglasses); Jewellery (Necklaces, Rings, Earrings, Watches)
Sports & Outdoors: Cycling (Road Bikes, Mountain Bikes, Helmets, Bike Lights); Camping (Tents, Sleeping Bags, Camping Stoves, Backpacks); Fitness (Dumbbells, Yoga Mats, Resistance Bands, Treadmills); Team Sports (Football, Basketball, Baseball, Volleyball); Water Sports (Swimwear, Goggles, Paddle Boards, Wetsuits)
Toys & Games: Building Sets (Bricks, Magnetic Tiles, Marble Runs); Board Games (Strategy Games, Party Games, Family Games, Puzzles); Dolls & Figures (Fashion Dolls, Action Figures, Doll Houses); Outdoor Play (Scooters, Trampolines, Water Guns); Learning Toys (Science Kits, Coding Robots, Musical Toys)
Beauty & Personal Care: Skincare (Cleansers, Moisturisers, Sunscreen, Serums, Masks); Hair Care (Shampoo, Conditioner, Hair Dryers, Straighteners); Make-up (Foundation, Lipstick, Mascara, Eyeshadow); Fragrance (Perfume, Aftershave, Body Mist); Shaving (Razors, Shaving Cream, Electric Shavers)
Health & Household: Vitamins (Multivitamins, Vitamin D, Omega-3, Probiotics); First Aid (Plasters, Bandages, Thermometers, Antiseptics); Cleaning (Detergent, Sponges, Mops, Vacuum Cleaners); Paper Goods (Toilet Paper, Kitchen Roll, Tissues); Medical Supplies (Blood Pressure Monitors, Pulse Oximeters, Mobility Aids)
Grocery: Pantry (Rice, Pasta, Flour, Canned Goods, Spices); Beverages (Coffee, Tea, Juice, Sparkling Water); Snacks (Crisps, Chocolate, Biscuits, Nuts); Breakfast (Cereal, Oats, Honey, Jam); World Foods (Korean, Japanese, Italian, Mexican, Indian)
Automotive: Car Care (Car Wash, Wax, Microfibre Cloths); Parts (Brakes, Filters, Batteries, Spark Plugs, Wipers); Electronics (Dash Cams, Car Chargers, Sat Navs); Tools (Jacks, Torque Wrenches, Tyre Inflators); Interior (Seat Covers, Floor Mats, Organisers)
Garden & Patio: Plants (Seeds, Bulbs, Houseplants, Shrubs); Garden Tools (Spades, Pruners, Rakes, Hoses); Outdoor Furniture (Tables, Chairs, Parasols, Hammocks); Lawn Care (Lawn Mowers, Trimmers, Fertiliser); Barbecues (Charcoal Grills, Gas Grills, Grill Tools)
Office Supplies: Paper (Notebooks, Printer Paper, Sticky Notes, Envelopes); Writing (Pens, Pencils, Highlighters, Markers); Desk (Staplers, Organisers, Desk Lamps); Furniture (Office Chairs, Desks, Filing Cabinets); Presentation (Whiteboards, Flip Charts, Laser Pointers)
Pet Supplies: Dogs (Dog Food, Dog Toys, Leads, Dog Beds); Cats (Cat Food, Litter, Scratching Posts, Cat Toys); Fish (Aquariums, Filters, Fish Food); Birds (Cages, Bird Seed, Perches); Small Animals (Hutches, Bedding, Hay)
Music & Instruments: Guitars (Acoustic Guitars, Electric Guitars, Bass Guitars, Guitar Strings); Keyboards (Digital Pianos, Synthesisers, MIDI Controllers); Drums (Drum Kits, Cymbals, Drumsticks); Studio (Microphones, Audio Interfaces, Studio Monitors); Sheet Music (Piano Scores, Songbooks, Method Books)
Baby: Feeding (Bottles, High Chairs, Bibs, Breast Pumps); Nursery (Cots, Baby Monitors, Changing Tables); Travel (Pushchairs, Car Seats, Baby Carriers); Nappies (Disposable Nappies, Cloth Nappies, Wipes); Baby Clothing (Bodysuits, Sleepsuits, Baby Shoes)
`

// departmentTree is a hospital's departments: a root per line with its
// code, then its departments, each "Name/CODE".
const departmentTree = `
Medicine/MED: Cardiology/CARD; Respiratory Medicine/RESP; Gastroenterology/GAST; Nephrology/NEPH; Endocrinology/ENDO; Neurology/NEUR; Infectious Diseases/INFD; Geriatric Medicine/GERI
Surgery/SURG: General Surgery/GSUR; Orthopaedics/ORTH; Cardiothoracic Surgery/CTSU; Neurosurgery/NSUR; Urology/UROL; Vascular Surgery/VASC
Women and Children/WCH: Obstetrics/OBST; Gynaecology/GYNA; Paediatrics/PAED; Neonatology/NEON
Critical Care/CRIT: Intensive Care/ICU; High Dependency/HDU; Coronary Care/CCU
Emergency Medicine/EMER: Emergency Department/ED; Acute Medical Unit/AMU
Oncology/ONCO: Medical Oncology/MONC; Haematology/HAEM; Radiotherapy/RADT
`

// category is one node of the taxonomy, in preorder (parents first).
type category struct {
	name   string
	parent int // index of the parent in the list; -1 for a root
}

func parseTaxonomy() []category {
	var out []category
	for _, line := range strings.Split(strings.TrimSpace(categoryTaxonomy), "\n") {
		rootName, subs, _ := strings.Cut(line, ":")
		root := len(out)
		out = append(out, category{name: strings.TrimSpace(rootName), parent: -1})
		for _, sub := range strings.Split(subs, ";") {
			subName, leaves, _ := strings.Cut(sub, "(")
			s := len(out)
			out = append(out, category{name: strings.TrimSpace(subName), parent: root})
			for _, leaf := range strings.Split(strings.TrimSuffix(strings.TrimSpace(leaves), ")"), ",") {
				out = append(out, category{name: strings.TrimSpace(leaf), parent: s})
			}
		}
	}
	return out
}

// department is one node of the department tree, in preorder.
type department struct {
	name, code string
	parent     int
}

func parseDepartments() []department {
	var out []department
	for _, line := range strings.Split(strings.TrimSpace(departmentTree), "\n") {
		head, children, _ := strings.Cut(line, ":")
		name, code, _ := strings.Cut(strings.TrimSpace(head), "/")
		root := len(out)
		out = append(out, department{name: name, code: code, parent: -1})
		for _, child := range strings.Split(children, ";") {
			name, code, _ := strings.Cut(strings.TrimSpace(child), "/")
			out = append(out, department{name: name, code: code, parent: root})
		}
	}
	return out
}

var (
	givenNames = []string{"Minji", "Jisoo", "Seojun", "Hana", "Jiho", "Yuna", "Doyun", "Sora", "Hyunwoo", "Eunji",
		"Olivia", "Liam", "Amelia", "Noah", "Isla", "Oliver", "Ava", "Leo", "Mia", "Arthur",
		"Sofia", "Mateo", "Chloe", "Lucas", "Zara", "Ethan", "Aisha", "Omar", "Priya", "Ravi"}
	familyNames = []string{"Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim",
		"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Thomas", "Roberts", "Walker",
		"Garcia", "Martin", "Rossi", "Müller", "Dubois", "Novak", "Khan", "Patel", "Singh", "Tanaka"}

	newsletterWords  = []string{"Morning", "Weekly", "Daily", "Evening", "Friday", "Sunday", "Midweek", "Monthly"}
	newsletterTopics = []string{"Go", "Postgres", "Frontend", "Design", "Markets", "Climate", "Science", "Football",
		"Cooking", "Travel", "Books", "Film", "Health", "Startups", "Security", "Data", "Music", "Gaming",
		"Parenting", "Gardening", "History", "Space", "AI", "Cycling", "Running", "Coffee", "Wine", "Cities",
		"Photography", "Economics"}
	newsletterNouns = []string{"Brief", "Digest", "Roundup", "Dispatch", "Letter", "Bulletin", "Notes", "Report"}
	titleOpeners    = []string{"What we learned from", "A closer look at", "Five things about", "Why everyone is talking about",
		"The quiet rise of", "How to get started with", "Behind the scenes of", "The case for", "Rethinking",
		"This week in", "Everything you missed about", "A beginner's guide to"}
	titleSubjects = []string{"slow queries", "city bikes", "home espresso", "sourdough", "index-only scans",
		"winter running", "open data", "container gardens", "night trains", "quiet offices", "local elections",
		"electric buses", "board games", "the new stadium", "budget travel", "retro consoles", "urban trees",
		"remote teams", "bread prices", "jazz records", "tiny houses", "rainy-day hikes", "old maps", "museum nights"}

	courseTopics = []string{"Go", "SQL", "PostgreSQL", "Python", "Data Analysis", "Statistics", "Korean", "English",
		"Japanese", "Drawing", "Watercolour", "Photography", "Guitar", "Piano", "Cooking", "Baking", "Yoga",
		"Marketing", "Accounting", "UX Design", "Excel", "Public Speaking", "Writing", "Calligraphy"}
	courseLevels = []string{"for Beginners", "Essentials", "Intermediate", "Advanced", "Masterclass", "Bootcamp", "in 30 Days"}
	kitNouns     = []string{"Starter Kit", "Workbook", "Practice Set", "Tool Kit", "Flashcards"}
)
