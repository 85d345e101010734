/* SPDX-License-Identifier: MIT */
/* energy-to-carbon: the carbon intensity of electricity per country, in
 * gCO2eq/kWh, as upstream Alumet's plugin 0.1.0 ships it (its energy mix
 * file: 213 countries, data years 2009 to 2023, mostly 2022 and 2023),
 * sorted by ISO 3166-1 alpha-3 code for a binary search. */
#include <stdlib.h>
#include <string.h>

#include "energy-to-carbon.h"

static const struct energy_to_carbon_country energy_to_carbon_countries[] = {
    {"ABW", 561.224}, {"AFG", 132.53},   {"AGO", 174.734}, {"ALB", 24.286},  {"ARE", 561.135},
    {"ARG", 354.103}, {"ARM", 264.538},  {"ASM", 611.111}, {"ATG", 611.111}, {"AUS", 548.692},
    {"AUT", 110.812}, {"AZE", 671.389},  {"BDI", 250.0},   {"BEL", 138.107}, {"BEN", 584.071},
    {"BFA", 467.533}, {"BGD", 691.411},  {"BGR", 335.334}, {"BHR", 904.615}, {"BHS", 660.099},
    {"BIH", 600.0},   {"BLR", 441.74},   {"BLZ", 225.806}, {"BMU", 650.794}, {"BOL", 531.687},
    {"BRA", 98.348},  {"BRB", 605.505},  {"BRN", 893.913}, {"BTN", 23.333},  {"BWA", 847.909},
    {"CAF", 0.0},     {"CAN", 170.043},  {"CHE", 34.843},  {"CHL", 291.113}, {"CHN", 582.317},
    {"CIV", 393.885}, {"CMR", 305.419},  {"COD", 24.457},  {"COG", 700.0},   {"COK", 250.0},
    {"COL", 259.511}, {"COM", 642.857},  {"CPV", 558.14},  {"CRI", 53.378},  {"CUB", 637.61},
    {"CYM", 642.857}, {"CYP", 534.323},  {"CZE", 449.724}, {"DEU", 380.95},  {"DJI", 692.308},
    {"DMA", 529.412}, {"DNK", 151.65},   {"DOM", 580.78},  {"DZA", 634.611}, {"ECU", 150.224},
    {"EGY", 570.306}, {"ERI", 631.579},  {"ESH", 666.667}, {"ESP", 174.05},  {"EST", 416.667},
    {"ETH", 24.643},  {"FIN", 79.158},   {"FJI", 288.462}, {"FLK", 500.0},   {"FRA", 56.039},
    {"FRO", 404.762}, {"GAB", 491.597},  {"GBR", 237.589}, {"GEO", 167.594}, {"GHA", 484.0},
    {"GIB", 600.0},   {"GIN", 236.842},  {"GLP", 500.0},   {"GMB", 666.667}, {"GNB", 625.0},
    {"GNQ", 591.837}, {"GRC", 336.574},  {"GRD", 640.0},   {"GRL", 178.571}, {"GTM", 328.268},
    {"GUF", 217.822}, {"GUM", 622.857},  {"GUY", 640.351}, {"HKG", 699.499}, {"HND", 282.265},
    {"HRV", 204.962}, {"HTI", 567.308},  {"HUN", 204.19},  {"IDN", 675.931}, {"IND", 713.441},
    {"IRL", 290.805}, {"IRN", 655.125},  {"IRQ", 688.814}, {"ISL", 27.68},   {"ISR", 582.927},
    {"ITA", 330.718}, {"JAM", 555.556},  {"JOR", 540.924}, {"JPN", 485.392}, {"KAZ", 821.391},
    {"KEN", 70.492},  {"KGZ", 147.292},  {"KHM", 417.707}, {"KIR", 666.667}, {"KNA", 636.364},
    {"KOR", 430.567}, {"KWT", 649.163},  {"LAO", 265.506}, {"LBN", 599.005}, {"LBR", 227.848},
    {"LBY", 818.692}, {"LCA", 666.667},  {"LKA", 509.781}, {"LSO", 20.0},    {"LTU", 160.072},
    {"LUX", 105.263}, {"LVA", 123.2},    {"MAC", 448.98},  {"MAR", 630.014}, {"MDA", 643.464},
    {"MDG", 436.441}, {"MDV", 611.765},  {"MEX", 507.245}, {"MKD", 565.345}, {"MLI", 408.0},
    {"MLT", 459.144}, {"MMR", 398.898},  {"MNE", 417.073}, {"MNG", 775.309}, {"MOZ", 135.647},
    {"MRT", 464.706}, {"MSR", 1000.0},   {"MTQ", 523.179}, {"MUS", 632.479}, {"MWI", 66.667},
    {"MYS", 605.831}, {"NAM", 59.259},   {"NCL", 660.584}, {"NER", 670.886}, {"NGA", 523.247},
    {"NIC", 265.116}, {"NLD", 267.622},  {"NOR", 30.08},   {"NPL", 24.44},   {"NRU", 750.0},
    {"NZL", 112.758}, {"OMN", 564.635},  {"PAK", 440.608}, {"PAN", 161.677}, {"PER", 266.478},
    {"PHL", 610.688}, {"PNG", 507.246},  {"POL", 661.926}, {"PRI", 678.738}, {"PRK", 389.587},
    {"PRT", 165.553}, {"PRY", 23.755},   {"PSE", 516.129}, {"PYF", 442.857}, {"QAT", 602.5},
    {"REU", 572.816}, {"ROU", 240.583},  {"RUS", 441.039}, {"RWA", 316.327}, {"SAU", 706.791},
    {"SDN", 263.158}, {"SEN", 511.598},  {"SGP", 470.783}, {"SHN", 1000.0},  {"SLB", 700.0},
    {"SLE", 50.0},    {"SLV", 271.468},  {"SOM", 578.947}, {"SPM", 600.0},   {"SRB", 636.062},
    {"SSD", 629.032}, {"STP", 642.857},  {"SUR", 349.282}, {"SVK", 116.774}, {"SVN", 231.275},
    {"SWE", 40.695},  {"SWZ", 172.414},  {"SYC", 564.516}, {"SYR", 701.661}, {"TCA", 653.846},
    {"TCD", 628.571}, {"TGO", 443.182},  {"THA", 549.583}, {"TJK", 116.858}, {"TKM", 1306.025},
    {"TLS", 666.667}, {"TON", 625.0},    {"TTO", 681.529}, {"TUN", 563.956}, {"TUR", 464.586},
    {"TWN", 642.378}, {"TZA", 339.246},  {"UGA", 44.527},  {"UKR", 259.693}, {"URY", 128.788},
    {"USA", 369.473}, {"UZB", 1167.603}, {"VCT", 529.412}, {"VEN", 185.802}, {"VGB", 647.059},
    {"VIR", 632.353}, {"VNM", 475.449},  {"VUT", 571.429}, {"WSM", 473.684}, {"YEM", 566.102},
    {"ZAF", 707.686}, {"ZMB", 111.967},  {"ZWE", 297.872},
};

static int energy_to_carbon_country_cmp(const void *key, const void *item)
{
    return strcmp(key, ((const struct energy_to_carbon_country *)item)->code);
}

const struct energy_to_carbon_country *energy_to_carbon_country_find(const char *code)
{
    return bsearch(code, energy_to_carbon_countries,
                   sizeof(energy_to_carbon_countries) / sizeof(energy_to_carbon_countries[0]),
                   sizeof(energy_to_carbon_countries[0]), energy_to_carbon_country_cmp);
}

size_t energy_to_carbon_country_count(void)
{
    return sizeof(energy_to_carbon_countries) / sizeof(energy_to_carbon_countries[0]);
}
